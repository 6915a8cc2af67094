"""A validation's answer that holds nothing, rendered without Ninja's response validation (core.schemas.shaped),
is, byte for byte, what that validation rendered: for generated answers, and for real ones (valid, refused for
each kind of reason, in Persian and in English). With a reservation the answer is validated as before."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api import shaping
from tests.vouchers.test_api import ITEMS, ten  # noqa: F401 - a fixture

from vafa.vouchers import api as vouchers_api


def validated_bytes(answer: dict) -> bytes:
    return shaping.validated_bytes(vouchers_api.router, vouchers_api.validate_code, answer)


texts = st.text(alphabet=st.sampled_from("abc TEN۱۲ کد\"\\/\n\u200c😀"), max_size=8)
ints = st.integers(-(10**15), 10**15)
answers = st.fixed_dictionaries(
    {"valid": st.booleans(), "code": texts, "discount": ints, "reason": texts, "message": texts,
     "allocation": st.lists(ints, max_size=3), "shipping_discount": ints, "reservation_token": st.none(),
     "reservation_expires_at": st.none()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers)
def test_shaped_renders_what_the_validation_rendered(answer):
    assert shaping.shaped_bytes(vouchers_api.ValidateOut, answer) == validated_bytes(copy.deepcopy(answer))


def test_real_answers_are_the_bytes_the_validation_rendered(writer, ten, member, monkeypatch):  # noqa: F811
    seen = shaping.spy_on_shaped(monkeypatch, vouchers_api)
    bodies = [
        {"code": "ten", "member_id": member.pk, "branch": "t1", "items": ITEMS},
        {"code": "TEN", "items": ITEMS, "shipping": 10_000},
        {"code": "NOPE", "items": ITEMS},
        {"code": "TEN"},  # nothing to discount
    ]
    sent = [writer.post("/vouchers/validate", body, headers={"Accept-Language": language})
            for body in bodies for language in ("fa", "en")]
    assert [response.status_code for response in sent] == [200] * len(sent)
    assert sent[0].json()["valid"] and not sent[4].json()["valid"]
    assert len(seen) == len(sent)
    for response, answer in zip(sent, seen, strict=True):
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content == validated_bytes(answer)
    reserved = writer.post("/vouchers/validate", {**bodies[1], "reserve": True})
    assert reserved.status_code == 200 and reserved.json()["reservation_token"] and len(seen) == len(sent)
