"""The purchase use case: input checks, credit payments and the earning base, cashback, returns' edge cases."""

import copy
import datetime as dt

import pytest
from django.utils import timezone

from conftest import PROGRAM
from vafa.core.errors import InsufficientBalance, InvalidInput, NotFound
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry, Lot
from vafa.ledger.selectors import balances
from vafa.outbox.models import OutboxEvent
from vafa.purchases.models import Purchase, PurchaseLine, Return
from vafa.purchases.services import record_purchase, return_purchase


def buy(business, member, receipt, total, **kw):
    return record_purchase(business, member_id=member.pk, branch_code=kw.pop("branch", "t1"), receipt=receipt,
                           total=total, **kw)


def with_cashback(percent="5") -> dict:
    doc = copy.deepcopy(PROGRAM)
    doc["rules"].append({"id": "cash", "kind": "cashback", "percent": percent})
    return doc


def test_bad_input_lists_every_field_and_writes_nothing(business, member):
    before = (Purchase.objects.count(), Entry.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(InvalidInput) as info:
        record_purchase(business, member_id=member.pk, branch_code="nope", receipt="", total=-1,
                        redeem_points="5", occurred_at=dt.datetime(2025, 1, 1, 12, 0),
                        lines=[{"sku": "A", "quantity": 0, "unit_price": 100, "colour": "red"}])
    fields = {e["field"]: e["message"] for e in info.value.errors}
    assert fields == {
        "total": "must_not_be_negative",
        "redeem.points": "must_be_integer",
        "lines.0.quantity": "must_be_positive",
        "lines.0.colour": "unknown_field",
        "occurred_at": "needs_timezone_offset",
        "receipt": "required",
        "branch": "unknown_branch",
    }
    with pytest.raises(InvalidInput) as info:
        buy(business, member, "R1", 100_000, occurred_at=timezone.now() + dt.timedelta(hours=1))
    assert info.value.errors == [{"field": "occurred_at", "message": "in_the_future"}]
    with pytest.raises(InvalidInput) as info:
        buy(business, member, "R" * 65, True)
    assert {e["field"] for e in info.value.errors} == {"receipt", "total"}
    with pytest.raises(NotFound):
        record_purchase(business, member_id=10**9, branch_code="t1", receipt="R1", total=100_000)
    assert (Purchase.objects.count(), Entry.objects.count(), OutboxEvent.objects.count()) == before


def test_points_paid_do_not_earn(business, member):
    buy(business, member, "R0", 2_000_000)  # 200 points
    result = buy(business, member, "R1", 1_000_000, redeem_points=150)  # at 100 → 10,000: only 100 are used
    assert (result["points_redeemed"], result["points_value"]) == (100, 10_000)
    assert result["earning_base"] == 990_000
    assert result["payable"] == 990_000
    assert [(e["kind"], e["amount"]) for e in result["effects"]] == [("earn", 90)]
    assert balances(member)["points"]["available"] == 200 - 100 + 90
    assert check_ledger() == []


def test_redeeming_less_than_a_step_or_more_than_due(business, member):
    buy(business, member, "R0", 2_000_000)  # 200 points
    with pytest.raises(InvalidInput) as info:
        buy(business, member, "R1", 1_000_000, redeem_points=99)
    assert info.value.errors == [{"field": "redeem.points", "message": "less_than_one_step"}]
    with pytest.raises(InvalidInput) as info:
        buy(business, member, "R1", 19_999, redeem_points=200)  # 20,000 of points on 19,999
    assert info.value.errors == [{"field": "redeem.points", "message": "more_than_amount_due"}]
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R1", 1_000_000, redeem_points=300)
    assert Purchase.objects.count() == 1


def test_cashback_to_the_wallet_spent_and_given_back(business, member, program):
    program(with_cashback("5"))
    first = buy(business, member, "R1", 1_000_000)
    assert {e["kind"]: e["amount"] for e in first["effects"]} == {"earn": 100, "cashback": 50_000}
    wallet_lot = Lot.objects.get(member=member, currency="wallet")
    assert wallet_lot.expires_at - wallet_lot.created_at == dt.timedelta(days=180)
    assert balances(member)["wallet"]["available"] == 50_000

    second = buy(business, member, "R2", 400_000, redeem_wallet=30_000)
    assert second["wallet_redeemed"] == 30_000
    assert second["earning_base"] == 370_000
    assert {e["kind"]: e["amount"] for e in second["effects"]} == {"earn": 30, "cashback": 18_500}
    assert balances(member)["wallet"]["available"] == 50_000 - 30_000 + 18_500

    back = return_purchase(business, second["purchase_id"], amount=400_000)
    got = {(r["kind"], r["currency"]): r["amount"] for r in back["reversed"]}
    assert got == {("give_back", "wallet"): 30_000, ("reverse", "points"): 30, ("reverse", "wallet"): 18_500}
    assert balances(member)["wallet"]["available"] == 50_000
    assert balances(member)["points"]["available"] == 100
    with pytest.raises(InvalidInput) as info:
        buy(business, member, "R3", 10_000, redeem_wallet=10_001)
    assert info.value.errors == [{"field": "redeem.wallet", "message": "more_than_amount_due"}]
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R3", 100_000, redeem_wallet=50_001)
    assert check_ledger() == []


def test_wallet_cannot_go_into_debt(business, member, program):
    """Only points may carry a debt: a cashback reversed after it was spent must not leave the wallet negative."""
    program(with_cashback("10"))
    first = buy(business, member, "R1", 1_000_000)  # 100,000 wallet
    buy(business, member, "R2", 100_000, redeem_wallet=100_000)
    return_purchase(business, first["purchase_id"], amount=1_000_000)
    assert check_ledger() == []
    assert balances(member)["wallet"]["available"] >= 0


def test_lines_are_stored_and_returns_name_them(business, member):
    result = buy(business, member, "R1", 1_000_000, lines=[
        {"sku": "A", "name": "Latte", "category": "coffee", "quantity": 2, "unit_price": 250_000},
        {"sku": "B", "name": "Cake", "category": "food", "quantity": 1, "unit_price": 500_000}])
    lines = list(PurchaseLine.objects.filter(purchase_id=result["purchase_id"]).order_by("position")
                 .values_list("sku", "quantity", "amount"))
    assert lines == [("A", 2, 500_000), ("B", 1, 500_000)]
    with pytest.raises(InvalidInput) as info:
        return_purchase(business, result["purchase_id"], lines=[{"sku": "Z"}, {"sku": "A", "quantity": 0}])
    assert info.value.errors == [{"field": "lines.0", "message": "no_such_line"},
                                 {"field": "lines.1.quantity", "message": "must_be_positive"}]
    back = return_purchase(business, result["purchase_id"], lines=[{"sku": "A", "quantity": 1}])
    assert back["returned_amount"] == 250_000
    assert PurchaseLine.objects.get(purchase_id=result["purchase_id"], sku="A").returned_quantity == 1
    assert Return.objects.get().lines == [{"line_id": PurchaseLine.objects.get(sku="A").pk, "quantity": 1}]
    assert check_ledger() == []


def test_return_of_another_business_purchase_is_not_found(business, member, other_business):
    result = buy(business, member, "R1", 1_000_000)
    with pytest.raises(NotFound):
        return_purchase(other_business, result["purchase_id"], amount=1)
    with pytest.raises(NotFound):
        return_purchase(business, 10**9, amount=1)


def test_a_purchase_tells_the_outbox(business, member):
    result = buy(business, member, "R1", 1_000_000)
    types = list(OutboxEvent.objects.filter(business=business).order_by("id").values_list("event_type", flat=True))
    assert types[-2:] == ["points.earned", "purchase.created"]
    created = OutboxEvent.objects.get(event_type="purchase.created")
    assert created.payload["purchase_id"] == result["purchase_id"]
    assert created.payload["total"] == 1_000_000


def test_a_member_of_another_business_is_not_found(business, other_business):
    from vafa.members.services import sign_up

    stranger = sign_up(other_business, mobile="09121234567")
    with pytest.raises(NotFound):
        record_purchase(business, member_id=stranger.pk, branch_code="t1", receipt="R1", total=100_000)
    with pytest.raises(NotFound):
        record_purchase(business, member_id=stranger.pk, branch_code="t1", receipt="R1", total=100_000,
                        dry_run=True)
    assert Purchase.objects.count() == 0
