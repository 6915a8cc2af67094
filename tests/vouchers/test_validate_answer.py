"""A validation's answer that holds nothing, rendered without Ninja's response validation (core.schemas.shaped),
is, byte for byte, what that validation rendered: for generated answers, and for real ones (valid, refused for
each kind of reason, in Persian and in English). With a reservation the answer is validated as before."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ninja.operation import ResponseObject
from tests.vouchers.test_api import ITEMS, ten  # noqa: F401 - a fixture

from vafa.api.site import api
from vafa.core.schemas import shaped
from vafa.vouchers import api as vouchers_api


def _operation():
    for view in vouchers_api.router.path_operations.values():
        for operation in view.operations:
            if operation.view_func is vouchers_api.validate_code:
                return operation
    raise AssertionError("no POST /vouchers/validate")


def validated_bytes(answer: dict) -> bytes:
    """What Ninja's response validation rendered for this answer (Operation._result_to_response)."""
    dumped = _operation().response_models[200].model_validate(ResponseObject(answer)).model_dump()["response"]
    return api.renderer.render(None, dumped, response_status=200).encode()


texts = st.text(alphabet=st.sampled_from("abc TEN۱۲ کد\"\\/\n\u200c😀"), max_size=8)
ints = st.integers(-(10**15), 10**15)
answers = st.fixed_dictionaries(
    {"valid": st.booleans(), "code": texts, "discount": ints, "reason": texts, "message": texts,
     "allocation": st.lists(ints, max_size=3), "shipping_discount": ints, "reservation_token": st.none(),
     "reservation_expires_at": st.none()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers)
def test_shaped_renders_what_the_validation_rendered(answer):
    rendered = api.renderer.render(None, shaped(vouchers_api.ValidateOut, answer), response_status=200).encode()
    assert rendered == validated_bytes(copy.deepcopy(answer))


def test_real_answers_are_the_bytes_the_validation_rendered(writer, ten, member, monkeypatch):  # noqa: F811
    seen: list[dict] = []

    def spy(model, data):
        seen.append(copy.deepcopy(data))
        return shaped(model, data)

    monkeypatch.setattr(vouchers_api, "shaped", spy)
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
