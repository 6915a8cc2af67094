"""Expiry and release hold at the minute: a lot past its expiry is gone and a pending lot past its release time is
available from that moment, for reads and spends alike; the jobs only write down what already happened."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from vafa.core.errors import InsufficientBalance
from vafa.ledger import services as ledger
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry, Lot
from vafa.ledger.selectors import balances, gift_credit_restrictions, members_balances
from vafa.members.balances import expire_lots, release_pending
from vafa.members.services import lock_member
from vafa.outbox.models import OutboxEvent
from vafa.purchases.services import record_purchase, return_purchase

from .helpers import document, entry_sum, points

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def noon():
    """12:00 two days ago (UTC): recent enough for any bound on backdated purchases."""
    return (timezone.now() - dt.timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


def grant(business, member, currency, amount, *, at, expires_at=None, pending_until=None, restrictions=None):
    with transaction.atomic():
        locked = lock_member(member.pk, business.pk)
        return ledger.credit(locked, currency, amount, reason="seed", at=at, expires_at=expires_at,
                             pending_until=pending_until, restrictions=restrictions)


def spend_points(business, member, points_, at, receipt="S1", dry_run=False):
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=points_ * 1000,
                           redeem_points=points_, occurred_at=at, dry_run=dry_run)


def test_points_expiring_at_noon_are_gone_at_noon_for_reads_and_spends(business, member, program, noon):
    program(document(rate=(1, 1000)))
    grant(business, member, "points", 100, at=noon - dt.timedelta(days=30), expires_at=noon)
    grant(business, member, "points", 30, at=noon - dt.timedelta(days=30), expires_at=None)
    assert balances(member, noon - MINUTE)["points"] == {"available": 130, "pending": 0}
    assert balances(member, noon)["points"] == {"available": 30, "pending": 0}
    assert members_balances(business.pk, [member.pk], noon)[member.pk]["points"]["available"] == 30
    assert points(member) == {"available": 130, "pending": 0}  # a read writes nothing

    with pytest.raises(InsufficientBalance) as dry:
        spend_points(business, member, 31, noon + MINUTE, dry_run=True)
    assert dry.value.params == {"currency": "points", "needed": 31, "available": 30}
    with pytest.raises(InsufficientBalance) as real:
        spend_points(business, member, 31, noon + MINUTE)
    assert real.value.params == {"currency": "points", "needed": 31, "available": 30}
    assert Entry.objects.filter(kind=Entry.Kind.EXPIRE).count() == 0  # the refused spends wrote nothing

    assert expire_lots(noon + dt.timedelta(hours=1)) == 1  # the hourly job, later: writes down what happened
    expiry = Entry.objects.get(kind=Entry.Kind.EXPIRE)
    assert (expiry.amount, expiry.created_at) == (100, noon)  # dated at the lot's expiry, not the job's run
    assert points(member) == {"available": 30, "pending": 0}
    assert expire_lots(noon + dt.timedelta(hours=2)) == 0
    assert entry_sum(member, Entry.Kind.EXPIRE) == 100
    assert OutboxEvent.objects.filter(event_type="points.expired").count() == 1
    assert check_ledger() == []


def test_a_spend_after_the_expiry_writes_it_down_once_and_the_job_finds_nothing(business, member, program, noon):
    program(document(rate=(1, 1000)))
    grant(business, member, "points", 100, at=noon - dt.timedelta(days=30), expires_at=noon)
    grant(business, member, "points", 50, at=noon - dt.timedelta(days=30), expires_at=None)
    result = spend_points(business, member, 20, noon + MINUTE)
    assert result["balance"]["points"] == {"available": 30, "pending": 0}
    expiry = Entry.objects.get(kind=Entry.Kind.EXPIRE)
    assert (expiry.amount, expiry.created_at, expiry.source) == (100, noon, "job:expire")
    assert Lot.objects.get(origin__amount=100, origin__kind=Entry.Kind.EARN).state == Lot.State.CLOSED
    assert OutboxEvent.objects.filter(event_type="points.expired").count() == 1
    assert expire_lots(noon + dt.timedelta(hours=1)) == 0
    assert entry_sum(member, Entry.Kind.EXPIRE) == 100
    assert check_ledger() == []


def test_the_last_minute_before_the_expiry_still_spends(business, member, program, noon):
    program(document(rate=(1, 1000)))
    grant(business, member, "points", 100, at=noon - dt.timedelta(days=30), expires_at=noon)
    result = spend_points(business, member, 100, noon - MINUTE)
    assert result["points_redeemed"] == 100
    assert expire_lots(noon) == 0  # nothing left to expire
    assert check_ledger() == []


def test_pending_points_are_spendable_from_the_minute_they_are_released(business, member, program, noon):
    program(document(rate=(1, 1000)))
    grant(business, member, "points", 80, at=noon - dt.timedelta(days=14), pending_until=noon,
          expires_at=noon + dt.timedelta(days=365))
    assert balances(member, noon - MINUTE)["points"] == {"available": 0, "pending": 80}
    assert balances(member, noon)["points"] == {"available": 80, "pending": 0}
    with pytest.raises(InsufficientBalance):
        spend_points(business, member, 10, noon - MINUTE, receipt="early")
    result = spend_points(business, member, 80, noon)
    assert (result["points_redeemed"], result["balance"]["points"]) == (80, {"available": 0, "pending": 0})
    release = Entry.objects.get(kind=Entry.Kind.RELEASE)
    assert (release.amount, release.created_at) == (80, noon)
    assert release_pending(noon + dt.timedelta(days=1)) == 0  # the job: already written down
    assert check_ledger() == []


def test_a_release_repays_a_debt_first_in_reads_as_in_writes(business, member, program, noon):
    program(document(rate=(1, 1000)))
    earned = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="E1", total=300_000,
                             occurred_at=noon - dt.timedelta(days=10))  # 30 points
    spend_points(business, member, 30, noon - dt.timedelta(days=9))
    return_purchase(business, earned["purchase_id"], amount=300_000, at=noon - dt.timedelta(days=8))
    assert points(member) == {"available": -30, "pending": 0}  # the claw-back left a debt
    grant(business, member, "points", 80, at=noon - dt.timedelta(days=1), pending_until=noon,
          expires_at=noon + dt.timedelta(days=365))
    read = balances(member, noon + MINUTE)["points"]
    assert read == {"available": 50, "pending": 0}
    assert release_pending(noon + MINUTE) == 1
    assert points(member) == read
    assert Lot.objects.get(origin__amount=80).remaining == 50
    assert check_ledger() == []


def test_gift_credit_past_its_end_is_not_spendable_nor_listed(business, member, noon):
    grant(business, member, "gift_credit", 40_000, at=noon - dt.timedelta(days=5), expires_at=noon,
          restrictions={"categories": ["coffee"]})
    assert gift_credit_restrictions(member, noon - MINUTE) == [
        {"amount": 40_000, "categories": ["coffee"], "branches": [], "expires_at": noon}]
    assert gift_credit_restrictions(member, noon) == []
    assert balances(member, noon)["gift_credit"]["available"] == 0
    lines = [{"sku": "ESP", "category": "coffee", "quantity": 1, "unit_price": 40_000}]
    with pytest.raises(InsufficientBalance) as info:
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt="G1", total=40_000, lines=lines,
                        redeem_gift_credit=40_000, occurred_at=noon + MINUTE)
    assert (info.value.code, info.value.params["available"]) == ("insufficient_balance", 0)
    bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="G2", total=40_000,
                             lines=lines, redeem_gift_credit=40_000, occurred_at=noon - MINUTE)
    assert bought["gift_credit_redeemed"] == 40_000
    assert check_ledger() == []


def test_a_conversion_after_the_expiry_is_refused(business, member, program, noon):
    from vafa.members.balances import convert_points_to_wallet

    program(document(rate=(1, 1000)))
    grant(business, member, "points", 100, at=noon - dt.timedelta(days=30), expires_at=noon)
    assert convert_points_to_wallet(business, member.pk, 40, at=noon - MINUTE)["points_converted"] == 40
    with pytest.raises(InsufficientBalance) as info:
        convert_points_to_wallet(business, member.pk, 10, at=noon + MINUTE)
    assert info.value.params["available"] == 0
    assert entry_sum(member, Entry.Kind.EXPIRE) == 0  # the refused conversion wrote nothing
    assert expire_lots(noon + MINUTE) == 1
    assert entry_sum(member, Entry.Kind.EXPIRE) == 60
    assert check_ledger() == []
