"""Many requests at once for one member (PostgreSQL: real row locks and concurrent connections)."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conftest import postgres_only
from vafa.core.errors import AlreadyDone, InsufficientBalance
from vafa.ledger import services as ledger
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Account, Entry, Lot
from vafa.ledger.selectors import business_balance
from vafa.members.balances import expire_lots
from vafa.members.services import lock_member
from vafa.purchases.models import Purchase, Return
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase

from .helpers import days, points

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def run_together(count: int, work) -> list:
    """Run work(i) in `count` threads released at once; answers [(outcome, value)] in thread order."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", work(i))
        except Exception as exc:  # every outcome is inspected by the test
            outcomes[i] = (type(exc).__name__, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def give_points(business, member, amount: int, expires_at=None) -> None:
    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        ledger.credit(m, "points", amount, reason="opening balance", expires_at=expires_at)


def running_balances(member) -> list[int]:
    """The member's available points after each entry, in the order they were written."""
    account = Account.objects.get(member=member, currency="points", kind="available")
    balance = 0
    seen = []
    for debit_id, credit_id, amount in (Entry.objects.filter(member=member, currency="points")
                                        .order_by("id").values_list("debit_id", "credit_id", "amount")):
        if credit_id == account.pk:
            balance += amount
        if debit_id == account.pk:
            balance -= amount
        seen.append(balance)
    return seen


def test_fifty_spends_of_one_balance(business, member):
    give_points(business, member, 500)

    def spend(i):
        # 100 points pay 10,000 at the program's rate: the whole basket, so nothing is earned
        return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"C{i}", total=10_000,
                               redeem_points=100)["purchase_id"]

    outcomes = run_together(50, spend)
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 5, "InsufficientBalance": 45}, [o for o in outcomes if o[0] not in ("ok",
                                                                                               "InsufficientBalance")]
    for kind, exc in outcomes:
        if kind == "InsufficientBalance":
            assert isinstance(exc, InsufficientBalance)
            assert exc.params == {"currency": "points", "needed": 100, "available": 0}
    assert Purchase.objects.filter(member=member).count() == 5
    assert points(member) == {"available": 0, "pending": 0}
    assert Entry.objects.filter(member=member, kind=Entry.Kind.SPEND).count() == 5
    assert min(running_balances(member)) == 0
    assert running_balances(member)[-1] == 0
    assert check_ledger() == []


def test_same_receipt_posted_twenty_times_at_once_earns_once(business, member):
    def post(i):
        return record_purchase(business, member_id=member.pk, branch_code="t1", receipt="SAME", total=1_000_000)

    outcomes = run_together(20, post)
    assert [kind for kind, _ in outcomes] == ["ok"] * 20, outcomes
    results = [value for _, value in outcomes]
    assert len({r["purchase_id"] for r in results}) == 1
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 19
    assert Purchase.objects.filter(member=member).count() == 1
    assert Entry.objects.filter(member=member, kind=Entry.Kind.EARN).count() == 1
    assert points(member) == {"available": 100, "pending": 0}
    assert check_ledger() == []


def test_same_idempotency_key_twenty_times_at_once(business, member):
    def post(i):
        return record_purchase(business, member_id=member.pk, branch_code="t1", receipt="K1", total=1_000_000,
                               idempotency_key="one-key")

    outcomes = run_together(20, post)
    assert [kind for kind, _ in outcomes] == ["ok"] * 20, outcomes
    assert len({value["purchase_id"] for _, value in outcomes}) == 1
    assert sum(1 for _, value in outcomes if not value["replayed"]) == 1
    assert Purchase.objects.filter(member=member).count() == 1
    assert points(member) == {"available": 100, "pending": 0}
    assert check_ledger() == []


def test_concurrent_cancellations_reverse_once(business, member):
    bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R1", total=1_000_000)

    outcomes = run_together(10, lambda i: cancel_purchase(business, bought["purchase_id"]))
    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds == {"ok": 1, "AlreadyDone": 9}, outcomes
    assert all(isinstance(exc, AlreadyDone) for kind, exc in outcomes if kind != "ok")
    assert Return.objects.count() == 1
    assert points(member) == {"available": 0, "pending": 0}
    assert Entry.objects.filter(member=member, kind=Entry.Kind.REVERSE).count() == 1
    assert check_ledger() == []


def test_concurrent_partial_returns_add_up(business, member):
    bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R1", total=1_000_000)

    outcomes = run_together(10, lambda i: return_purchase(business, bought["purchase_id"], amount=100_000))
    assert [kind for kind, _ in outcomes] == ["ok"] * 10, outcomes
    assert sum(r["amount"] for _, value in outcomes for r in value["reversed"]) == 100
    purchase = Purchase.objects.get(pk=bought["purchase_id"])
    assert (purchase.status, purchase.returned_amount) == (Purchase.Status.RETURNED, 1_000_000)
    assert points(member) == {"available": 0, "pending": 0}
    assert check_ledger() == []


def test_concurrent_expiry_jobs_expire_each_lot_once(business, member, make_member):
    past = timezone.now() - days(1)
    others = [make_member() for _ in range(4)]
    for m in [member, *others]:
        for amount in (10, 20, 30):
            give_points(business, m, amount, expires_at=past)

    outcomes = run_together(8, lambda i: expire_lots(timezone.now()))
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert sum(value for _, value in outcomes) == 15
    assert Entry.objects.filter(kind=Entry.Kind.EXPIRE).count() == 15
    assert Lot.objects.filter(state=Lot.State.OPEN).count() == 0
    assert points(member) == {"available": 0, "pending": 0}
    assert business_balance(business.pk, "points", "expired") == 5 * 60
    assert check_ledger() == []


def test_first_earnings_of_twenty_members_at_once(business, make_member):
    """The business's issued account does not exist yet: every thread tries to create it."""
    members = [make_member() for _ in range(20)]

    def post(i):
        return record_purchase(business, member_id=members[i].pk, branch_code="t1", receipt=f"F{i}",
                               total=1_000_000 + i * 100_000)

    outcomes = run_together(20, post)
    assert [kind for kind, _ in outcomes] == ["ok"] * 20, outcomes
    assert [points(m)["available"] for m in members] == [100 + 10 * i for i in range(20)]
    assert business_balance(business.pk, "points", "issued") == -sum(
        100 + 10 * i for i in range(20))
    assert check_ledger() == []
