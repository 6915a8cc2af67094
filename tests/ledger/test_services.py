"""The ledger through its services and through the purchase use cases: lots, pending, expiry, returns, debts,
replays, the consistency check, tiers and stamps."""


import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from vafa.core.errors import AlreadyDone, Conflict, IdempotencyConflict, InsufficientBalance, InvalidInput
from vafa.core.models import IdempotencyRecord
from vafa.ledger import services as ledger
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.ledger.selectors import business_balance
from vafa.members.balances import expire_lots, release_pending
from vafa.members.models import Member, TierChange
from vafa.members.services import lock_member
from vafa.outbox.models import OutboxEvent
from vafa.purchases.models import IssuedReward, Purchase, Return, RewardEffect
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase
from vafa.purchases.tasks import review_tiers

from .helpers import days, document, entry_sum, ledger_total_from_entries, lot_of, points


def buy(business, member, receipt, total, **kw):
    return record_purchase(business, member_id=member.pk, branch_code=kw.pop("branch", "t1"), receipt=receipt,
                           total=total, **kw)


def reversed_of(result, kind):
    return [(r["currency"], r["amount"]) for r in result["reversed"] if r["kind"] == kind]


# --- lots: which are consumed first ------------------------------------------------------------------


def test_debit_consumes_lots_that_expire_first(business, member):
    now = timezone.now()
    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        older_10d = lot_of(ledger.credit(m, "points", 40, reason="d", at=now - days(20), expires_at=now + days(10)))
        no_expiry = lot_of(ledger.credit(m, "points", 70, reason="c", at=now - days(15), expires_at=None))
        in_30d = lot_of(ledger.credit(m, "points", 60, reason="a", at=now - days(10), expires_at=now + days(30)))
        in_10d = lot_of(ledger.credit(m, "points", 50, reason="b", at=now - days(1), expires_at=now + days(10)))
    assert points(member) == {"available": 220, "pending": 0}

    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        first = ledger.debit(m, "points", 100, reason="spend 1", at=now)
    remaining = {lot.pk: lot.remaining for lot in Lot.objects.filter(member=member)}
    assert remaining == {older_10d.pk: 0, in_10d.pk: 0, in_30d.pk: 50, no_expiry.pk: 70}
    moves = list(LotMovement.objects.filter(entry=first).order_by("id").values_list("lot_id", "amount"))
    assert moves == [(older_10d.pk, -40), (in_10d.pk, -50), (in_30d.pk, -10)]
    assert Lot.objects.get(pk=older_10d.pk).state == Lot.State.CLOSED
    assert Lot.objects.get(pk=in_10d.pk).state == Lot.State.CLOSED
    assert Lot.objects.get(pk=in_30d.pk).state == Lot.State.OPEN

    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        ledger.debit(m, "points", 60, reason="spend 2", at=now)
    remaining = {lot.pk: lot.remaining for lot in Lot.objects.filter(member=member)}
    assert remaining == {older_10d.pk: 0, in_10d.pk: 0, in_30d.pk: 0, no_expiry.pk: 60}
    assert points(member) == {"available": 60, "pending": 0}

    entries = Entry.objects.count()
    with pytest.raises(InsufficientBalance) as info:
        with transaction.atomic():
            m = lock_member(member.pk, business.pk)
            ledger.debit(m, "points", 61, reason="too much", at=now)
    assert info.value.params["available"] == 60
    assert Entry.objects.count() == entries
    assert Lot.objects.get(pk=no_expiry.pk).remaining == 60
    assert points(member) == {"available": 60, "pending": 0}
    assert check_ledger() == []


def test_debit_with_ties_takes_the_oldest_then_the_lowest_id(business, member):
    now = timezone.now()
    expiry = now + days(5)
    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        second = lot_of(ledger.credit(m, "points", 10, reason="x", at=now - days(1), expires_at=expiry))
        first = lot_of(ledger.credit(m, "points", 10, reason="y", at=now - days(2), expires_at=expiry))
        third = lot_of(ledger.credit(m, "points", 10, reason="z", at=now - days(1), expires_at=expiry))
        ledger.debit(m, "points", 15, reason="spend", at=now)
    remaining = {lot.pk: lot.remaining for lot in Lot.objects.filter(member=member)}
    assert remaining == {first.pk: 0, second.pk: 5, third.pk: 10}
    assert check_ledger() == []


def test_spend_never_goes_negative_through_a_purchase(business, member, program):
    program(document(rate=(1, 1000)))
    buy(business, member, "R1", 1_000_000)  # 100 points
    counts = (Entry.objects.count(), Purchase.objects.count(), Lot.objects.count(), RewardEffect.objects.count(),
              OutboxEvent.objects.count())
    with pytest.raises(InsufficientBalance) as info:
        buy(business, member, "R2", 500_000, redeem_points=101)
    assert info.value.params == {"currency": "points", "needed": 101, "available": 100}
    assert (Entry.objects.count(), Purchase.objects.count(), Lot.objects.count(), RewardEffect.objects.count(),
            OutboxEvent.objects.count()) == counts
    assert points(member) == {"available": 100, "pending": 0}
    # exactly the balance is fine
    result = buy(business, member, "R3", 500_000, redeem_points=100)
    assert result["points_redeemed"] == 100
    assert points(member)["available"] == 40  # 0 left + 40 earned on the 400,000 paid in cash
    assert check_ledger() == []


# --- pending → available ------------------------------------------------------------------------------


def test_pending_points_become_available_after_the_return_window(business, member, program):
    program(document(pending_days=14))
    bought_at = timezone.now() - days(30)
    result = buy(business, member, "R1", 1_000_000, occurred_at=bought_at)
    assert result["balance"]["points"] == {"available": 0, "pending": 100}
    lot = Lot.objects.get(member=member)
    assert lot.state == Lot.State.PENDING
    assert lot.available_at == bought_at + days(14)
    assert lot.expires_at == bought_at + days(365)

    assert release_pending(bought_at + days(13)) == 0
    assert points(member) == {"available": 0, "pending": 100}
    assert Lot.objects.get(pk=lot.pk).state == Lot.State.PENDING

    assert release_pending(bought_at + days(15)) == 1
    assert points(member) == {"available": 100, "pending": 0}
    lot.refresh_from_db()
    assert lot.state == Lot.State.OPEN
    assert lot.remaining == 100
    assert lot.available_at == bought_at + days(14)  # available since the window ended, not since the job ran
    assert Entry.objects.get(member=member, kind=Entry.Kind.RELEASE).created_at == bought_at + days(14)
    assert entry_sum(member, Entry.Kind.RELEASE) == 100

    assert release_pending(bought_at + days(16)) == 0
    assert release_pending(timezone.now()) == 0
    assert entry_sum(member, Entry.Kind.RELEASE) == 100
    assert points(member) == {"available": 100, "pending": 0}
    assert check_ledger() == []


def test_pending_points_cannot_be_spent(business, member, program):
    program(document(pending_days=14, rate=(1, 1000)))
    buy(business, member, "R1", 1_000_000, occurred_at=timezone.now() - days(3))
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R2", 100_000, redeem_points=10)
    assert Purchase.objects.count() == 1
    assert check_ledger() == []


def test_return_within_the_window_takes_from_the_pending_lot(business, member, program):
    program(document(pending_days=14))
    bought_at = timezone.now() - days(30)
    result = buy(business, member, "R1", 1_000_000, occurred_at=bought_at)
    back = return_purchase(business, result["purchase_id"], amount=400_000, at=bought_at + days(2))
    assert reversed_of(back, "reverse") == [("points", 40)]
    assert points(member) == {"available": 0, "pending": 60}
    assert release_pending(bought_at + days(14)) == 1
    assert points(member) == {"available": 60, "pending": 0}
    assert Lot.objects.get(member=member).remaining == 60
    assert check_ledger() == []


# --- expiry -------------------------------------------------------------------------------------------


def test_expire_lots_expires_exactly_the_remaining_once(business, member, program):
    program(document(expiry_days=30))
    bought_at = timezone.now() - days(60)
    buy(business, member, "R1", 1_000_000, occurred_at=bought_at)
    lot = Lot.objects.get(member=member)
    assert lot.expires_at == bought_at + days(30)

    assert expire_lots(bought_at + days(29)) == 0
    assert points(member)["available"] == 100
    assert expire_lots(bought_at + days(30)) == 1  # due at expires_at
    assert points(member)["available"] == 0
    assert entry_sum(member, Entry.Kind.EXPIRE) == 100
    lot.refresh_from_db()
    assert (lot.state, lot.remaining) == (Lot.State.CLOSED, 0)
    assert business_balance(business.pk, "points", "expired") == 100

    assert expire_lots(bought_at + days(31)) == 0
    assert expire_lots(timezone.now()) == 0
    assert entry_sum(member, Entry.Kind.EXPIRE) == 100
    assert OutboxEvent.objects.filter(event_type="points.expired").count() == 1
    assert check_ledger() == []


def test_spend_then_expire_only_expires_what_is_left(business, member, program):
    program(document(expiry_days=30, rate=(1, 1000)))
    bought_at = timezone.now() - days(60)
    buy(business, member, "R1", 1_000_000, occurred_at=bought_at)  # 100 points
    buy(business, member, "R2", 40_000, redeem_points=40, occurred_at=bought_at + days(1))  # all by points
    assert points(member)["available"] == 60
    assert expire_lots(bought_at + days(31)) == 1
    assert entry_sum(member, Entry.Kind.EXPIRE) == 60
    assert points(member)["available"] == 0
    assert ledger_total_from_entries(member) == 0
    assert check_ledger() == []


def test_giving_back_into_an_expired_lot_opens_a_new_lot(business, member, program):
    program(document(expiry_days=30, rate=(1, 1000)))
    bought_at = timezone.now() - days(100)
    buy(business, member, "R1", 1_000_000, occurred_at=bought_at)  # 100 points
    spent = buy(business, member, "R2", 100_000, redeem_points=100, occurred_at=bought_at + days(1))
    assert expire_lots(bought_at + days(31)) == 0  # nothing left to expire
    back_at = bought_at + days(40)
    result = return_purchase(business, spent["purchase_id"], amount=100_000, at=back_at)
    assert reversed_of(result, "give_back") == [("points", 100)]
    new = Lot.objects.filter(member=member, state=Lot.State.OPEN).get()
    assert new.remaining == 100
    assert new.expires_at == back_at + days(30)
    assert new.origin.kind == Entry.Kind.REVERSE
    assert Lot.objects.get(member=member, purchase__receipt="R1").remaining == 0
    assert check_ledger() == []


def test_giving_back_restores_the_lots_the_spend_took(business, member, program):
    program(document(expiry_days=30, rate=(1, 1000)))
    bought_at = timezone.now() - days(20)
    buy(business, member, "R1", 1_000_000, occurred_at=bought_at)  # 100 points
    spent = buy(business, member, "R2", 60_000, redeem_points=60, occurred_at=bought_at + days(1))
    lot = Lot.objects.get(member=member, purchase__receipt="R1")
    assert lot.remaining == 40
    return_purchase(business, spent["purchase_id"], amount=30_000, at=bought_at + days(2))
    lot.refresh_from_db()
    assert lot.remaining == 70
    assert Lot.objects.filter(member=member).count() == 1
    assert check_ledger() == []


# --- returns ------------------------------------------------------------------------------------------


@pytest.fixture
def redeeming(business, member, program):
    """The issue's scenario: the member has 150 points; the purchase redeems 150 points and earns 70."""
    program(document(rate=(1, 1000), earn_on_credit_payments=True))
    buy(business, member, "R0", 1_500_000, occurred_at=timezone.now() - days(2))  # 150 points
    assert points(member)["available"] == 150
    result = buy(business, member, "R1", 700_000, redeem_points=150, occurred_at=timezone.now() - days(1))
    assert result["points_redeemed"] == 150
    assert result["points_value"] == 150_000
    assert result["earning_base"] == 700_000
    assert result["payable"] == 550_000
    assert [(e["kind"], e["amount"]) for e in result["effects"]] == [("earn", 70)]
    assert points(member)["available"] == 70
    return result["purchase_id"]


def test_earned_70_spent_150_half_returned(business, member, redeeming):
    first = return_purchase(business, redeeming, amount=350_000)
    assert reversed_of(first, "reverse") == [("points", 35)]
    assert reversed_of(first, "give_back") == [("points", 75)]
    assert first["status"] == Purchase.Status.PARTIALLY_RETURNED
    assert (first["returned_amount"], first["returned_total"], first["previously_returned"]) == (350_000, 350_000, 0)
    assert points(member)["available"] == 70 - 35 + 75
    assert first["balance"]["points"]["available"] == 110

    second = return_purchase(business, redeeming, amount=350_000)
    assert reversed_of(second, "reverse") == [("points", 35)]
    assert reversed_of(second, "give_back") == [("points", 75)]
    assert second["status"] == Purchase.Status.RETURNED
    assert second["previously_returned"] == 350_000
    assert points(member)["available"] == 150

    with pytest.raises(AlreadyDone):
        return_purchase(business, redeeming, amount=1)
    with pytest.raises(AlreadyDone):
        cancel_purchase(business, redeeming)
    assert Return.objects.filter(purchase_id=redeeming).count() == 2
    effects = {e.kind: (e.amount, e.reversed_amount) for e in RewardEffect.objects.filter(purchase_id=redeeming)}
    assert effects == {"spend": (150, 150), "earn": (70, 70)}
    purchase = Purchase.objects.get(pk=redeeming)
    assert (purchase.returned_amount, purchase.spend) == (700_000, 0)
    assert ledger_total_from_entries(member) == 150
    assert check_ledger() == []


def test_full_return_reverses_everything_exactly(business, member, redeeming):
    result = return_purchase(business, redeeming, amount=700_000)
    assert reversed_of(result, "reverse") == [("points", 70)]
    assert reversed_of(result, "give_back") == [("points", 150)]
    assert result["status"] == Purchase.Status.RETURNED
    assert points(member)["available"] == 150
    with pytest.raises(AlreadyDone):
        return_purchase(business, redeeming, amount=700_000)
    assert check_ledger() == []


def test_return_more_than_left_is_refused(business, member, redeeming):
    return_purchase(business, redeeming, amount=500_000)
    with pytest.raises(InvalidInput) as info:
        return_purchase(business, redeeming, amount=200_001)
    assert info.value.errors == [{"field": "amount", "message": "more_than_not_yet_returned"}]
    for bad in (0, -5, "10"):
        with pytest.raises(InvalidInput):
            return_purchase(business, redeeming, amount=bad)
    with pytest.raises(InvalidInput):
        return_purchase(business, redeeming)
    assert Return.objects.filter(purchase_id=redeeming).count() == 1
    assert check_ledger() == []


def test_cancel_after_partial_return_reverses_only_the_rest(business, member, redeeming):
    first = return_purchase(business, redeeming, amount=100_000)  # 1/7 of the total
    assert reversed_of(first, "give_back") == [("points", 21)]  # 150/7 = 21.43
    assert reversed_of(first, "reverse") == [("points", 10)]  # 70/7 = 10
    rest = cancel_purchase(business, redeeming)
    assert rest["status"] == Purchase.Status.CANCELLED
    assert rest["returned_amount"] == 600_000
    assert reversed_of(rest, "give_back") == [("points", 129)]
    assert reversed_of(rest, "reverse") == [("points", 60)]
    with pytest.raises(AlreadyDone):
        cancel_purchase(business, redeeming)
    assert entry_sum(member, Entry.Kind.REVERSE, purchase_id=redeeming) == 150 + 70
    assert points(member)["available"] == 150
    assert check_ledger() == []


def test_many_small_returns_never_reverse_twice(business, member, redeeming):
    total_reverse = total_back = 0
    for _ in range(7):
        result = return_purchase(business, redeeming, amount=99_999)
        total_reverse += sum(a for _, a in reversed_of(result, "reverse"))
        total_back += sum(a for _, a in reversed_of(result, "give_back"))
    last = return_purchase(business, redeeming, amount=700_000 - 7 * 99_999)
    total_reverse += sum(a for _, a in reversed_of(last, "reverse"))
    total_back += sum(a for _, a in reversed_of(last, "give_back"))
    assert last["status"] == Purchase.Status.RETURNED
    assert (total_reverse, total_back) == (70, 150)
    assert points(member)["available"] == 150
    assert check_ledger() == []


def test_return_by_lines(business, member, program):
    program(document(rate=(1, 1000)))
    result = buy(business, member, "R1", 1_000_000, lines=[
        {"sku": "A", "quantity": 3, "unit_price": 100_000}, {"sku": "B", "quantity": 1, "unit_price": 700_000}])
    assert result["effects"][0]["amount"] == 100
    one = return_purchase(business, result["purchase_id"], lines=[{"sku": "A", "quantity": 1}])
    assert one["returned_amount"] == 100_000
    assert reversed_of(one, "reverse") == [("points", 10)]
    with pytest.raises(InvalidInput) as info:
        return_purchase(business, result["purchase_id"], lines=[{"sku": "A", "quantity": 3}])
    assert info.value.errors == [{"field": "lines.0.quantity", "message": "more_than_bought"}]
    rest = return_purchase(business, result["purchase_id"],
                           lines=[{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])
    assert rest["returned_amount"] == 900_000
    assert rest["status"] == Purchase.Status.RETURNED
    assert reversed_of(rest, "reverse") == [("points", 90)]
    assert points(member)["available"] == 0
    assert check_ledger() == []


# --- a return's debt ----------------------------------------------------------------------------------


def test_return_after_spending_leaves_a_debt_that_later_earnings_repay(business, member, program):
    program(document(rate=(1, 1000)))
    start = timezone.now() - days(10)
    earning = buy(business, member, "R1", 1_000_000, occurred_at=start)  # earns 100
    spent = buy(business, member, "R2", 100_000, redeem_points=100, occurred_at=start + days(1))
    assert spent["effects"] == []  # paid entirely with points: nothing earned
    assert points(member)["available"] == 0

    result = return_purchase(business, earning["purchase_id"], amount=1_000_000, at=start + days(2))
    assert reversed_of(result, "reverse") == [("points", 100)]
    assert points(member) == {"available": -100, "pending": 0}
    assert result["balance"]["points"]["available"] == -100
    assert check_ledger() == []

    # a debt cannot be spent
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R3", 10_000, redeem_points=1, occurred_at=start + days(3))

    repay = buy(business, member, "R4", 300_000, occurred_at=start + days(3))  # earns 30
    assert repay["effects"][0]["amount"] == 30
    assert points(member) == {"available": -70, "pending": 0}
    lot = Lot.objects.get(member=member, purchase_id=repay["purchase_id"])
    assert (lot.amount, lot.remaining, lot.state) == (30, 0, Lot.State.CLOSED)
    assert Lot.objects.filter(member=member, remaining__gt=0).count() == 0
    assert check_ledger() == []

    more = buy(business, member, "R5", 1_000_000, occurred_at=start + days(4))  # earns 100: 70 repay, 30 open
    assert more["effects"][0]["amount"] == 100
    assert points(member)["available"] == 30
    lot = Lot.objects.get(member=member, purchase_id=more["purchase_id"])
    assert (lot.amount, lot.remaining, lot.state) == (100, 30, Lot.State.OPEN)
    assert ledger_total_from_entries(member) == 30
    assert check_ledger() == []


def test_giving_back_repays_a_debt_first(business, member, program):
    program(document(rate=(1, 1000)))
    start = timezone.now() - days(10)
    earning = buy(business, member, "R1", 1_000_000, occurred_at=start)
    spent = buy(business, member, "R2", 100_000, redeem_points=100, occurred_at=start + days(1))
    return_purchase(business, earning["purchase_id"], amount=1_000_000, at=start + days(2))
    assert points(member)["available"] == -100
    result = return_purchase(business, spent["purchase_id"], amount=60_000, at=start + days(3))
    assert reversed_of(result, "give_back") == [("points", 60)]
    assert points(member)["available"] == -40
    assert Lot.objects.filter(member=member, remaining__gt=0).count() == 0
    return_purchase(business, spent["purchase_id"], amount=40_000, at=start + days(4))
    assert points(member)["available"] == 0
    assert Lot.objects.filter(member=member, remaining__gt=0).count() == 0
    assert check_ledger() == []


def test_release_of_a_pending_lot_repays_a_debt(business, member, program):
    program(document(rate=(1, 1000), pending_days=14))
    start = timezone.now() - days(60)
    earning = buy(business, member, "R1", 1_000_000, occurred_at=start)
    assert release_pending(start + days(14)) == 1
    buy(business, member, "R2", 100_000, redeem_points=100, occurred_at=start + days(15))
    return_purchase(business, earning["purchase_id"], amount=1_000_000, at=start + days(16))
    assert points(member) == {"available": -100, "pending": 0}
    buy(business, member, "R3", 1_500_000, occurred_at=start + days(17))  # 150 pending
    assert points(member) == {"available": -100, "pending": 150}
    assert check_ledger() == []
    assert release_pending(start + days(31)) == 1
    assert points(member) == {"available": 50, "pending": 0}
    lot = Lot.objects.get(member=member, purchase__receipt="R3")
    assert (lot.remaining, lot.state) == (50, Lot.State.OPEN)
    assert check_ledger() == []


# --- replays --------------------------------------------------------------------------------------------


def test_same_idempotency_key_and_request_replays(business, member):
    first = buy(business, member, "R1", 1_000_000, idempotency_key="key-1")
    assert first["replayed"] is False
    entries = Entry.objects.count()
    events = OutboxEvent.objects.count()
    second = buy(business, member, "R1", 1_000_000, idempotency_key="key-1")
    assert second["replayed"] is True
    assert second["purchase_id"] == first["purchase_id"]
    assert {k: v for k, v in second.items() if k != "replayed"} == {k: v for k, v in first.items()
                                                                     if k != "replayed"}
    assert Purchase.objects.filter(business=business).count() == 1
    assert Entry.objects.count() == entries
    assert OutboxEvent.objects.count() == events
    assert IdempotencyRecord.objects.filter(business=business, key="key-1").count() == 1
    assert points(member)["available"] == 100
    assert check_ledger() == []


def test_same_idempotency_key_with_another_request_is_refused(business, member):
    buy(business, member, "R1", 1_000_000, idempotency_key="key-1")
    with pytest.raises(IdempotencyConflict):
        buy(business, member, "R1", 2_000_000, idempotency_key="key-1")
    with pytest.raises(IdempotencyConflict):
        buy(business, member, "R2", 1_000_000, idempotency_key="key-1")
    assert Purchase.objects.count() == 1
    assert points(member)["available"] == 100
    assert check_ledger() == []


def test_same_receipt_without_a_key_replays(business, member):
    first = buy(business, member, "R1", 1_000_000)
    entries = Entry.objects.count()
    second = buy(business, member, "R1", 1_000_000)
    assert second["replayed"] is True
    assert second["purchase_id"] == first["purchase_id"]
    assert second["effects"] == first["effects"]
    assert Purchase.objects.count() == 1
    assert Entry.objects.count() == entries
    # the same receipt number at another branch is another purchase
    other = buy(business, member, "R1", 1_000_000, branch="v2")
    assert other["replayed"] is False
    assert other["purchase_id"] != first["purchase_id"]
    assert Purchase.objects.count() == 2
    assert points(member)["available"] == 200
    assert check_ledger() == []


def test_same_receipt_with_another_total_is_a_conflict(business, member, make_member):
    buy(business, member, "R1", 1_000_000)
    with pytest.raises(Conflict) as info:
        buy(business, member, "R1", 1_000_001)
    assert type(info.value) is Conflict
    assert info.value.detail == "receipt_exists"
    other = make_member()
    with pytest.raises(Conflict) as info:
        buy(business, other, "R1", 1_000_000)  # another member's purchase with the same receipt
    assert info.value.detail == "receipt_exists"
    assert Purchase.objects.count() == 1
    assert check_ledger() == []


def test_return_replay_with_the_same_key(business, member):
    bought = buy(business, member, "R1", 1_000_000)
    first = return_purchase(business, bought["purchase_id"], amount=500_000, idempotency_key="ret-1")
    second = return_purchase(business, bought["purchase_id"], amount=500_000, idempotency_key="ret-1")
    assert first["replayed"] is False
    assert second["replayed"] is True
    assert second["return_id"] == first["return_id"]
    assert Return.objects.count() == 1
    assert points(member)["available"] == 50
    with pytest.raises(IdempotencyConflict):
        return_purchase(business, bought["purchase_id"], amount=400_000, idempotency_key="ret-1")
    assert check_ledger() == []


def test_dry_run_writes_nothing(business, member, program):
    program(document(rate=(1, 1000)))
    buy(business, member, "R0", 1_000_000)
    models = (Entry, Purchase, Lot, LotMovement, RewardEffect, OutboxEvent, Account, IdempotencyRecord,
              TierChange)
    before = [m.objects.count() for m in models]
    result = buy(business, member, "R1", 800_000, redeem_points=50, dry_run=True, idempotency_key="dry")
    assert result["dry_run"] is True
    assert (result["points_redeemed"], result["points_value"], result["earning_base"]) == (50, 50_000, 750_000)
    assert [(e["kind"], e["amount"]) for e in result["effects"]] == [("earn", 70)]
    assert "purchase_id" not in result
    assert [m.objects.count() for m in models] == before
    assert points(member)["available"] == 100
    # the real purchase afterwards is not taken for a replay of the dry run
    real = buy(business, member, "R1", 800_000, redeem_points=50, idempotency_key="dry")
    assert real["replayed"] is False
    assert points(member)["available"] == 100 - 50 + 70
    assert check_ledger() == []


def test_dry_run_for_a_member_without_points_writes_nothing(business, member, program):
    program(document(rate=(1, 1000)))
    models = (Entry, Purchase, Lot, Account, OutboxEvent)
    before = [m.objects.count() for m in models]
    result = buy(business, member, "R1", 800_000, dry_run=True)
    assert [(e["kind"], e["amount"]) for e in result["effects"]] == [("earn", 80)]
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R1", 800_000, redeem_points=50, dry_run=True)
    assert [m.objects.count() for m in models] == before


# --- the consistency check ----------------------------------------------------------------------------


def test_check_ledger_finds_a_corrupted_cache(business, member):
    buy(business, member, "R1", 1_000_000)
    assert check_ledger() == []
    call_command("ledger", "check")
    Account.objects.filter(member=member, currency="points", kind="available").update(balance=F("balance") + 1)
    problems = check_ledger()
    assert problems
    assert any("cached balance 101 != entries 100" in p for p in problems)
    assert check_ledger(business.pk) == problems
    with pytest.raises(CommandError):
        call_command("ledger", "check")
    with pytest.raises(CommandError):
        call_command("ledger", "check", "--business", "cafe")


def test_check_ledger_finds_a_lot_out_of_step(business, member):
    buy(business, member, "R1", 1_000_000)
    Lot.objects.filter(member=member).update(remaining=F("remaining") - 1)
    problems = check_ledger()
    assert any("lots hold 99, balance 100" in p for p in problems)
    assert any("remaining 99 != its movements 100" in p for p in problems)


def test_check_ledger_is_per_business(business, member, other_business):
    buy(business, member, "R1", 1_000_000)
    Account.objects.filter(member=member, currency="points", kind="available").update(balance=F("balance") + 1)
    assert check_ledger(other_business.pk) == []
    assert check_ledger(business.pk) != []


# --- tiers ----------------------------------------------------------------------------------------------


def test_tier_upgrades_at_once_and_downgrades_only_at_review(business, member):
    assert member.tier == "bronze"
    first = buy(business, member, "R1", 4_000_000)
    assert first["tier"] == "bronze"
    assert TierChange.objects.count() == 0
    second = buy(business, member, "R2", 1_000_000)  # rolling spend reaches 5,000,000
    assert second["tier"] == "silver"
    member.refresh_from_db()
    assert member.tier == "silver"
    change = TierChange.objects.get()
    assert (change.from_tier, change.to_tier, change.metric, change.reason) == ("bronze", "silver", 5_000_000,
                                                                                "upgrade")
    # the purchase that reached the threshold still earned at the old rate; the next one earns double
    assert second["effects"][0]["amount"] == 100
    third = buy(business, member, "R3", 100_000)
    assert third["effects"][0]["amount"] == 20

    returned = return_purchase(business, first["purchase_id"], amount=1_000_000)
    assert returned["tier"] == "silver"
    member.refresh_from_db()
    assert member.tier == "silver"
    assert TierChange.objects.count() == 1

    assert review_tiers(timezone.now(), force=True) == 1
    member.refresh_from_db()
    assert member.tier == "bronze"
    review = TierChange.objects.order_by("-id").first()
    assert (review.from_tier, review.to_tier, review.metric, review.reason) == ("silver", "bronze", 4_100_000,
                                                                                "review")
    assert review_tiers(timezone.now(), force=True) == 0
    assert TierChange.objects.count() == 2
    assert check_ledger() == []


def test_tier_review_upgrades_too_and_respects_the_window(business, member):
    buy(business, member, "R1", 6_000_000, occurred_at=timezone.now() - days(300))
    member.refresh_from_db()
    assert member.tier == "silver"
    assert review_tiers(timezone.now(), force=True) == 0
    assert review_tiers(timezone.now() + days(70), force=True) == 1  # the purchase left the 365-day window
    member.refresh_from_db()
    assert member.tier == "bronze"


def test_gold_discount_applies(business, member):
    buy(business, member, "R1", 20_000_000)
    member.refresh_from_db()
    assert member.tier == "gold"
    result = buy(business, member, "R2", 1_000_000)
    assert result["discount"] == 50_000
    assert result["earning_base"] == 950_000
    assert result["effects"][0]["kind"] == "discount"
    earn = [e for e in result["effects"] if e["kind"] == "earn"]
    assert earn[0]["amount"] == 270  # 9 whole steps × 10 × 3
    assert Purchase.objects.get(pk=result["purchase_id"]).spend == 950_000


# --- stamps ---------------------------------------------------------------------------------------------


STAMPS = [
    {"id": "base", "kind": "earn", "per": 100_000, "award": 10},
    {"id": "coffee", "kind": "stamp", "every": 3, "reward": {"code": "free-coffee", "name": "قهوه رایگان"}},
]


def test_stamps_are_exact_with_returns(business, member, program):
    program(document(rules=STAMPS))
    bought = [buy(business, member, f"R{i}", 100_000) for i in range(3)]
    assert IssuedReward.objects.count() == 1
    reward = IssuedReward.objects.get()
    assert (reward.key, reward.reward_code, reward.status) == ("stamp:coffee:1", "free-coffee", "issued")
    assert reward.purchase_id == bought[2]["purchase_id"]
    assert [e["kind"] for e in bought[2]["effects"]] == ["earn", "reward"]

    cancel_purchase(business, bought[0]["purchase_id"])
    reward.refresh_from_db()
    assert reward.status == IssuedReward.Status.REVOKED
    assert reward.revoked_at is not None
    assert IssuedReward.objects.exclude(status="revoked").count() == 0

    buy(business, member, "R3", 100_000)
    live = IssuedReward.objects.exclude(status="revoked")
    assert live.count() == 1
    assert live.get().key == "stamp:coffee:1"
    assert IssuedReward.objects.count() == 2

    # a partial return keeps the purchase counted: nothing is revoked
    return_purchase(business, bought[1]["purchase_id"], amount=50_000)
    assert IssuedReward.objects.exclude(status="revoked").count() == 1
    # the next three purchases reach six counted purchases: the second reward
    for i in range(4, 7):
        buy(business, member, f"R{i}", 100_000)
    keys = sorted(IssuedReward.objects.exclude(status="revoked").values_list("key", flat=True))
    assert keys == ["stamp:coffee:1", "stamp:coffee:2"]
    assert check_ledger() == []


def test_full_return_also_revokes_a_stamp(business, member, program):
    program(document(rules=STAMPS))
    bought = [buy(business, member, f"R{i}", 100_000) for i in range(3)]
    return_purchase(business, bought[1]["purchase_id"], amount=100_000)
    assert IssuedReward.objects.get().status == IssuedReward.Status.REVOKED
    assert Member.objects.get(pk=member.pk).tier == "bronze"
    assert check_ledger() == []


def test_give_back_restores_the_last_taken_lot_first(business, member, program):
    """Spending takes the expiring lot first and the lot without expiry last; giving part of it back restores
    in the opposite order (latest expiry first, no expiry counting as the latest), on every database."""
    program(document(rate=(1, 1000)))
    now = timezone.now()
    with transaction.atomic():
        m = lock_member(member.pk, business.pk)
        forever = lot_of(ledger.credit(m, "points", 50, reason="no expiry", at=now - days(3), expires_at=None))
        soon = lot_of(ledger.credit(m, "points", 50, reason="soon", at=now - days(2), expires_at=now + days(10)))
    spent = buy(business, member, "R1", 100_000, redeem_points=100, occurred_at=now - days(1))
    assert (Lot.objects.get(pk=forever.pk).remaining, Lot.objects.get(pk=soon.pk).remaining) == (0, 0)
    return_purchase(business, spent["purchase_id"], amount=50_000)
    assert (Lot.objects.get(pk=forever.pk).remaining, Lot.objects.get(pk=soon.pk).remaining) == (50, 0)
    assert check_ledger() == []


def test_a_failed_request_does_not_use_up_its_idempotency_key(business, member, program):
    program(document(rate=(1, 1000)))
    with pytest.raises(InsufficientBalance):
        buy(business, member, "R1", 100_000, redeem_points=50, idempotency_key="k")
    assert IdempotencyRecord.objects.count() == 0
    buy(business, member, "R0", 1_000_000)  # 100 points
    result = buy(business, member, "R1", 100_000, redeem_points=50, idempotency_key="k")
    assert result["replayed"] is False
    assert result["points_redeemed"] == 50
    assert points(member)["available"] == 100 - 50  # 50,000 paid in cash is less than a step: nothing earned
    assert check_ledger() == []


def test_remind_expiring_tells_each_lot_once(business, member, program):
    from vafa.ledger.selectors import expiring_soon
    from vafa.messaging.tasks import remind_expiring

    doc = document(expiry_days=40)
    doc["settings"]["currencies"]["points"]["reminder_days"] = 30  # the program's own overrides messaging's 7
    program(doc)
    bought_at = timezone.now() - days(20)
    buy(business, member, "R1", 1_000_000, occurred_at=bought_at)  # expires in 20 days
    buy(business, member, "R2", 500_000)  # expires in 40 days
    soon = expiring_soon(member, days=30)
    assert [(row["currency"], row["amount"]) for row in soon] == [("points", 100)]
    assert remind_expiring() == 1
    assert remind_expiring() == 0
    event = OutboxEvent.objects.get(event_type="points.expiring")
    assert (event.payload["member_id"], event.payload["amount"]) == (member.pk, 100)
    assert remind_expiring(timezone.now() + days(15)) == 1  # the second lot is now within 30 days
    assert OutboxEvent.objects.filter(event_type="points.expiring").count() == 2


def test_tier_review_runs_only_when_due(business, member):
    buy(business, member, "R1", 5_000_000)
    member.refresh_from_db()
    assert member.tier == "silver"
    start = timezone.now()
    assert review_tiers(start) == 0  # first review: runs, nothing to change
    cancel_purchase(business, Purchase.objects.get(receipt="R1").pk)
    assert review_tiers(start + days(29)) == 0  # reviews every 30 days: not due yet
    member.refresh_from_db()
    assert member.tier == "silver"
    assert review_tiers(start + days(30)) == 1
    member.refresh_from_db()
    assert member.tier == "bronze"


@pytest.mark.django_db(transaction=True)
def test_business_accounts_are_remembered_once_committed(business):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic():
        ledger.business_account(business.pk, "coins", "issued")
        transaction.set_rollback(True)
    assert ledger._business_accounts == {}  # rolled back: the id must not be remembered
    kept = ledger.business_account(business.pk, "coins", "issued")
    assert Account.objects.filter(pk=kept.pk, code="b:coins:issued").exists()
    with CaptureQueriesContext(connection) as queries:
        again = ledger.business_account(business.pk, "coins", "issued")
    assert (again.pk, len(queries)) == (kept.pk, 0)


# --- bounds: no sum of a ledger overflows (issue 10) --------------------------------------------------------


def test_a_member_balance_is_bounded(business, member):
    from vafa.core.validation import MAX_AMOUNT, MAX_BALANCE

    for _ in range(MAX_BALANCE // MAX_AMOUNT):
        ledger.credit(member, "gift_credit", MAX_AMOUNT, reason="grant")
    with pytest.raises(Conflict) as caught:
        ledger.credit(member, "gift_credit", 1, reason="one more")
    assert caught.value.code == "conflict" and caught.value.detail == "balance_limit"
    assert check_ledger() == []


def test_the_check_sums_past_64_bits(business, make_member, monkeypatch, capsys):
    monkeypatch.setattr(ledger, "MAX_BALANCE", 10**19, raising=False)  # as if many members had filled the issued account
    for _ in range(10):
        ledger.credit(make_member(), "gift_credit", 10**18, reason="grant")
    assert business_balance(business.pk, "gift_credit", "issued") == -10**19  # past 2^63 - 1
    assert check_ledger() == []
    call_command("ledger", "check")


def test_an_account_missing_from_the_load_is_made_in_one_statement(business, member):
    """Once the member's accounts are all read (keep_accounts, load_accounts), one missing is made by a single
    INSERT; one made meanwhile through another object of the same member is answered as it is."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic():
        locked = lock_member(member.pk, member.business_id)
        ledger.load_accounts(locked)
        with CaptureQueriesContext(connection) as queries:
            made = ledger.member_account(locked, "wallet", Account.Kind.PENDING)
        assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT"), queries.captured_queries
        stored = Account.objects.get(pk=made.pk)
        assert (stored.code, stored.member_id, stored.currency, stored.kind, stored.balance, made.balance) == (
            f"m:{member.pk}:wallet:pending", member.pk, "wallet", "pending", 0, 0)
        Account.objects.filter(pk=made.pk).update(balance=7)
        again = lock_member(member.pk, member.business_id)
        ledger.load_accounts(again)
        again.__dict__["_vafa_accounts"].clear()  # as if read before the account was made
        assert (ledger.member_account(again, "wallet", Account.Kind.PENDING).pk,
                ledger.member_account(again, "wallet", Account.Kind.PENDING).balance) == (made.pk, 7)
        assert Account.objects.filter(business_id=member.business_id, code=stored.code).count() == 1


def test_accounts_are_built_in_the_models_field_order():
    """ledger.services._account builds an Account positionally: its fields in this order."""
    assert [f.attname for f in Account._meta.concrete_fields] == [
        "id", "business_id", "member_id", "currency", "kind", "code", "balance"]


# --- a spend as load → decide → write (issue 11) --------------------------------------------------------------


def test_a_spend_reads_the_lots_once_and_writes_the_write_down_with_it(business, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    ledger.credit(member, "points", 50, reason="old", at=now - days(10), expires_at=now - days(1))
    kept = ledger.credit(member, "points", 100, reason="new", at=now - days(5), expires_at=now + days(30))
    with CaptureQueriesContext(connection) as queries:
        spend = ledger.debit(member, "points", 80, reason="spend", at=now)
    lot_reads = [q for q in queries if q["sql"].startswith("SELECT") and "ledger_lot" in q["sql"]]
    assert len(lot_reads) == 1, [q["sql"] for q in lot_reads]
    assert Entry.objects.get(pk=spend.pk).amount == 80
    assert sorted(Entry.objects.filter(member=member).exclude(kind=Entry.Kind.EARN)
                  .values_list("kind", "amount")) == [("expire", 50), ("spend", 80)]
    assert lot_of(kept).remaining == 20
    assert points(member) == {"available": 20, "pending": 0}
    assert check_ledger() == []


def test_a_spend_never_takes_a_balance_below_zero_whatever_it_read(business, member):
    ledger.credit(member, "points", 100, reason="grant")
    # as if another writer had taken 70 between the lots' read and the spend's write (a caller without the lock)
    Account.objects.filter(member=member, currency="points", kind="available").update(balance=30)
    with pytest.raises(InsufficientBalance), transaction.atomic():
        ledger.debit(member, "points", 80, reason="spend")
    assert not Entry.objects.filter(member=member, kind=Entry.Kind.SPEND).exists()
    assert Account.objects.get(member=member, currency="points", kind="available").balance == 30
