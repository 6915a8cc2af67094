"""The purchase's answer rendered without Ninja's response validation (purchases.schemas.shaped) is, byte for
byte, what that validation rendered: for generated answers, and for the answers of real purchases, dry runs and
replays. And the request bodies are validated once, with the same refusals."""

import copy
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api import shaping
from tests.api.conftest import assert_problem
from tests.api.helpers import purchase_body, seed_points

from vafa.core.schemas import shaped
from vafa.purchases import api as purchases_api
from vafa.purchases.schemas import PurchaseIn, PurchaseOut
from vafa.vouchers.services import create_code, create_definition


def validated_bytes(result: dict, status: int) -> bytes:
    return shaping.validated_bytes(purchases_api.router, purchases_api.create_purchase, result, status)


def shaped_bytes(result: dict, status: int) -> bytes:
    return shaping.shaped_bytes(PurchaseOut, result, status)


texts = st.text(alphabet=st.sampled_from("abc R-۱۲ اسپرسو\"\\/\n\u200c😀"), max_size=8)
ints = st.integers(-(10**15), 10**15)
amounts = st.fixed_dictionaries({"available": ints, "pending": ints})
effect = st.fixed_dictionaries(
    {"kind": st.sampled_from(["earn", "discount", "reward", "cashback"]), "rule_id": texts,
     "currency": st.none() | texts, "amount": ints, "reason": texts, "reward_code": st.none() | texts,
     "reward_name": st.none() | texts},
    # answers stored before reasons were data lack their code and parameters
    optional={"reason_code": texts, "reason_params": st.dictionaries(texts, ints | texts, max_size=2)})
answers = st.fixed_dictionaries(
    {"total": ints, "discount": ints, "points_redeemed": ints, "points_value": ints, "wallet_redeemed": ints,
     "earning_base": ints, "payable": ints, "dry_run": st.booleans(), "program_version": ints,
     "member_id": ints, "effects": st.lists(effect, max_size=3), "tier": st.none() | texts,
     "balance": st.fixed_dictionaries({name: amounts for name in ("points", "coins", "wallet", "gift_credit")},
                                      optional={"stamps": amounts})},
    optional={"other_amount": ints, "gift_credit_redeemed": ints, "gift_card_redeemed": ints, "id": ints,
              "purchase_id": ints, "receipt": texts, "branch": texts, "status": texts,
              "refused_codes": st.lists(st.fixed_dictionaries({"code": texts, "reason_code": texts,
                                                               "detail": texts}), max_size=2),
              "rewards": st.lists(st.fixed_dictionaries({"id": ints, "code": texts, "name": texts, "gives": texts,
                                                         "discount": ints}), max_size=2),
              # what PurchaseOut leaves out
              "club": st.fixed_dictionaries({"member_status": texts}), "replayed": st.booleans()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers, status=st.sampled_from([200, 201]))
def test_shaped_renders_what_the_validation_rendered(answer, status):
    assert shaped_bytes(answer, status) == validated_bytes(copy.deepcopy(answer), status)


def test_a_missing_field_is_still_an_error():
    with pytest.raises(KeyError):
        shaped(PurchaseOut, {"total": 1})


@pytest.fixture
def answered(monkeypatch):
    """Every answer POST /purchases renders, beside the bytes it sent."""
    return shaping.spy_on_shaped(monkeypatch, purchases_api)


def test_real_answers_are_the_bytes_the_validation_rendered(writer, business, member, answered):
    create_code(create_definition(business, name="ten", kind="percent", percent=10), "GOOD10")
    seed_points(business, member, 1_000)
    items = [{"sku": "ESP", "name": "اسپرسو", "category": "coffee", "quantity": 2, "unit_price": 100_000}]
    sent = [
        writer.post("/purchases", purchase_body(member, "S-1", 200_000, items=items)),
        writer.post("/purchases", purchase_body(member, "S-1", 200_000, items=items)),  # the receipt's replay
        writer.post("/purchases", purchase_body(member, "S-2", 300_000, redeem={"points": 200},
                                                codes=["GOOD10", "NOPE"], on_bad_code="skip"), idem="k-1"),
        writer.post("/purchases", purchase_body(member, "S-2", 300_000, redeem={"points": 200},
                                                codes=["GOOD10", "NOPE"], on_bad_code="skip"), idem="k-1"),
        writer.post("/purchases", purchase_body(member, "S-3", 500_000, dry_run=True), headers={
            "Accept-Language": "en"}),
    ]
    assert [response.status_code for response in sent] == [201, 201, 201, 201, 200]
    assert [response.get("Idempotent-Replayed") for response in sent] == [None, "true", None, "true", None]
    assert sent[2].json()["refused_codes"][0]["code"] == "NOPE"
    assert len(answered) == len(sent)
    for response, result in zip(sent, answered, strict=True):
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content == validated_bytes(result, response.status_code)


# --- the member and the branch around the purchase -------------------------------------------------------------


def test_an_unknown_member_is_answered_before_the_purchase_refuses_anything_else(writer, member):
    """The member given by id is read by the purchase itself; its other refusals still come after an unknown
    member's 404, as when the route read the member first."""
    unknown = {"member_id": 999_999}
    for body, idem in ((purchase_body(unknown, total=1_000, items=[{"sku": "A", "unit_price": 5}]), None),
                       (purchase_body(unknown, branch="nowhere"), None),
                       (purchase_body(unknown, occurred_at="2999-01-01T10:00:00+03:30"), None),
                       (purchase_body(unknown, dry_run=True, redeem={"points": 10**9}), None),
                       (purchase_body(unknown, "K-2"), "used")):
        if idem:
            writer.post("/purchases", purchase_body(member, "K-1"), idem=idem)
        assert_problem(writer.post("/purchases", body, idem=idem), 404, "member_not_found")
    # a known member's refusal is the purchase's own
    assert_problem(writer.post("/purchases", purchase_body(member, branch="nowhere")), 422, "invalid_input",
                   fields=["branch"])


def test_another_business_member_is_unknown(writer, other_business):
    from tests.conftest import set_up_member

    stranger = set_up_member(other_business, mobile="09127777777")
    for dry_run in (False, True):
        assert_problem(writer.post("/purchases", purchase_body(stranger, dry_run=dry_run)), 404, "member_not_found")


def test_a_branch_bound_key_sees_a_branch_created_since(business, cashier_t1, member):
    from vafa.tenancy.models import Branch

    assert cashier_t1.post("/purchases", purchase_body(member, "B-1")).status_code == 201  # the branches read
    Branch.objects.create(business=business, code="n3", name="New")  # even without a new cache token
    assert_problem(cashier_t1.post("/purchases", purchase_body(member, "B-2", branch="n3")), 403,
                   "branch_not_allowed")
    assert_problem(cashier_t1.post("/purchases", purchase_body(member, "B-3", branch="v2")), 403,
                   "branch_not_allowed")
    assert_problem(cashier_t1.post("/purchases", purchase_body(member, "B-4", branch="zz")), 422, "invalid_input",
                   fields=["branch"])


# --- the body validated once -----------------------------------------------------------------------------------


def test_a_purchase_body_is_validated_once(monkeypatch):
    from vafa.core import schemas

    walks = []
    monkeypatch.setattr(schemas, "body_problem", lambda value: walks.append(value))
    parsed = PurchaseIn.model_validate({"member": {"member_id": 1}, "branch": "t1", "receipt": "R", "total": 5,
                                        "occurred_at": "2025-01-01T10:00:00+03:30",
                                        "items": [{"sku": "A", "unit_price": 5}]})
    assert len(walks) == 1  # the body once: the member and the item inside it do not walk their parts again
    assert parsed.redeem is PurchaseIn.model_fields["redeem"].default  # frozen: not copied
    assert parsed.occurred_at == dt.datetime(2025, 1, 1, 6, 30, tzinfo=dt.UTC)
