"""purchases.reversals: a return decided in pure code from what was loaded, then written."""

import pytest
from django.db import transaction
from django.utils import timezone

from vafa.purchases.reversals import ReturnRequest, _load, decide
from vafa.purchases.services import record_purchase

RULES = {"settings": {"currencies": {"points": {"pending_days": 14}}},
         "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                   {"id": "cashback", "kind": "cashback", "percent": "2"}]}


@pytest.fixture
def bought(business, program, member):
    program(RULES)
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-1", total=500_000,
                           lines=[{"sku": "A", "quantity": 5, "unit_price": 100_000}])["purchase_id"]


def test_the_decision_reads_nothing(business, member, bought, django_assert_num_queries):
    with transaction.atomic():
        at = timezone.now()
        request = ReturnRequest(lines=[{"sku": "A", "quantity": 2}])
        locked, _, loaded = _load(business, member.pk, bought, request, at)
        with django_assert_num_queries(0):
            plan = decide(loaded, request, locked.pk, business.pk, at)
    assert (plan.part, plan.status, plan.line_quantities) == (200_000, "partially_returned", {
        loaded.lines[0].id: 2})
    assert sorted((r["kind"], r["currency"], r["amount"]) for r in plan.reversed) == [
        ("reverse", "points", 20), ("reverse", "wallet", 4_000)]
    assert plan.ledger.balances[("points", "pending")] == 30


def test_a_return_after_the_points_expired_writes_the_expiry_down_first(business, program, member):
    import datetime as dt

    from vafa.ledger.check import check_ledger
    from vafa.ledger.selectors import balances
    from vafa.purchases.services import cancel_purchase

    program({"settings": {"currencies": {"points": {"expiry_days": 30}}},
             "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10}]})
    old = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="OLD", total=200_000,
                          occurred_at=timezone.now() - dt.timedelta(days=60))
    cancelled = cancel_purchase(business, old["purchase_id"])
    assert cancelled["reversed"] == [{"kind": "reverse", "currency": "points", "amount": 20, "unrecovered": 0,
                                      "rule_id": "base"}]
    assert balances(member)["points"]["available"] == -20  # expired, then clawed back: a debt
    assert check_ledger() == []


def test_the_return_row_has_the_id_its_load_took(business, member, bought):
    """The return's id is taken by its load (its plan then goes out with the audit row): the row written, the
    answer and the stored answer agree, also after a refused return and a return of another purchase."""
    from vafa.core.errors import AlreadyDone
    from vafa.purchases.models import Return
    from vafa.purchases.services import cancel_purchase, return_purchase

    first = return_purchase(business, bought, amount=100_000, idempotency_key="r-1")
    other = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-2", total=200_000)
    second = cancel_purchase(business, other["purchase_id"])
    third = cancel_purchase(business, bought)
    with pytest.raises(AlreadyDone):
        cancel_purchase(business, bought)
    assert return_purchase(business, bought, amount=100_000, idempotency_key="r-1") == first | {"replayed": True}
    ids = [answer["id"] for answer in (first, second, third)]
    assert ids == sorted(set(ids)) and all(answer["return_id"] == answer["id"] for answer in (first, second, third))
    assert list(Return.objects.order_by("pk").values_list("pk", "purchase_id", "cancellation")) == [
        (ids[0], bought, False), (ids[1], other["purchase_id"], True), (ids[2], bought, True)]
