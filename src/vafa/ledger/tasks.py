"""Periodic ledger jobs. Each is idempotent: a lot is released, expired or reminded of at most once."""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from vafa.core.reasons import Reason
from vafa.ledger import services as ledger
from vafa.ledger.models import Lot
from vafa.members.services import lock_member, lock_members
from vafa.messaging.selectors import reminder_days
from vafa.outbox.services import batched, emit

MEMBERS_PER_TRANSACTION = 200  # of the write-down jobs: their locks held a few tens of milliseconds


def _settle_due(due, now: dt.datetime, *, release: bool, expire: bool) -> int:
    """Write down the `due` lots (a Lot query), a batch of members at a time: their locks, their due lots read
    again under them, and one bulk write per batch (ledger.services.settle_lots). A member whose lots another
    run has written down meanwhile is found with nothing due."""
    members = sorted(set(due.values_list("business_id", "member_id")))
    total = 0
    for start in range(0, len(members), MEMBERS_PER_TRANSACTION):
        batch: dict[int, list[int]] = defaultdict(list)
        for business_id, member_id in members[start:start + MEMBERS_PER_TRANSACTION]:
            batch[business_id].append(member_id)
        for business_id, member_ids in batch.items():
            with transaction.atomic(), batched():
                locked = lock_members(member_ids, business_id)
                total += ledger.settle_lots(locked, now, release=release, expire=expire)
    return total


def release_pending(now: dt.datetime | None = None) -> int:
    """Write down the pending amounts whose return window has passed: available since that minute for reads and
    spends already (ledger.services.settle_due_lots), the entries are dated then."""
    now = now or timezone.now()
    due = Lot.objects.filter(state=Lot.State.PENDING, available_at__lte=now)
    return _settle_due(due, now, release=True, expire=False)


def expire_lots(now: dt.datetime | None = None) -> int:
    """Write down the lots past their expiry: gone since that minute for reads and spends already
    (ledger.services.settle_due_lots), the entries are dated then."""
    now = now or timezone.now()
    due = Lot.objects.filter(state=Lot.State.OPEN, remaining__gt=0, expires_at__lte=now)
    return _settle_due(due, now, release=False, expire=True)


def remind_expiring(now: dt.datetime | None = None) -> int:
    """Warn members before their lots expire (each lot once): the messaging setting's days before (default 7),
    or a currency's own reminder_days when the program sets one."""
    from vafa.program.selectors import active_program
    from vafa.tenancy.models import Business

    now = now or timezone.now()
    sent = 0
    for business in Business.objects.all():
        _, document = active_program(business)
        for currency in ("points", "coins", "wallet", "gift_credit"):
            days = reminder_days(business, document.settings.currency(currency))
            if not days:
                continue
            lots = Lot.objects.filter(business=business, currency=currency, state=Lot.State.OPEN, remaining__gt=0,
                                      reminded_at__isnull=True, expires_at__gt=now,
                                      expires_at__lte=now + dt.timedelta(days=days))
            for lot in lots.iterator(chunk_size=2000):
                with transaction.atomic():
                    if Lot.objects.filter(pk=lot.pk, reminded_at__isnull=True).update(reminded_at=now):
                        emit(business.pk, f"{currency}.expiring" if currency == "points" else "credit.expiring",
                             {"member_id": lot.member_id, "currency": currency, "amount": lot.remaining,
                              "expires_at": lot.expires_at.isoformat()})
                        sent += 1
    return sent


def grant_birthday_gifts(now: dt.datetime | None = None) -> int:
    """Gift credit for members whose birth month (in the business calendar) is this month, once per member
    and year, by the program's `birthday_gift` (amount per tier). Answers how many grants it made."""
    from zoneinfo import ZoneInfo

    from vafa.core.calendar import birth_month, year_start
    from vafa.ledger.models import Entry
    from vafa.members.models import Member
    from vafa.program.selectors import active_program
    from vafa.tenancy.models import Business

    now = now or timezone.now()
    granted = 0
    for business in Business.objects.all():
        _, document = active_program(business)
        gift = document.birthday_gift
        if gift is None:
            continue
        today = now.astimezone(ZoneInfo(business.timezone)).date()
        year = year_start(today, business.calendar).isoformat()[:4]
        source = f"grant:birthday:{year}"  # one grant per member and (business-calendar) year
        month = birth_month(today, business.calendar)
        already = set(Entry.objects.filter(business=business, currency="gift_credit", source=source)
                      .values_list("member_id", flat=True))
        candidates = (Member.objects.filter(business=business, status=Member.Status.ACTIVE, birth_date__isnull=False)
                      .exclude(pk__in=already).only("pk", "birth_date", "tier", "business_id"))
        for member in candidates.iterator(chunk_size=2000):
            amount = gift.amount_for(member.tier)
            if amount <= 0 or birth_month(member.birth_date, business.calendar) != month:
                continue
            with transaction.atomic():
                locked = lock_member(member.pk, business.pk)
                if Entry.objects.filter(business=business, member=locked, source=source).exists():
                    continue
                ledger.credit(locked, "gift_credit", amount, reason=Reason("localized", {"text": gift.reason}), at=now,
                              source=source, expires_at=now + dt.timedelta(days=gift.expiry_days),
                              restrictions={"categories": gift.categories} if gift.categories else None)
                emit(business.pk, "credit.earned", {"member_id": member.pk, "currency": "gift_credit",
                                                    "amount": amount, "occasion": "birthday"})
                granted += 1
    return granted
