"""The messaging jobs in vafa.jobs (run by `vafa jobs run-due` and `vafa worker`): `send_messages` every round,
`message_reports` every 5 minutes, `greetings` hourly, `remind_expiring` daily; `vafa messages send-due` runs the
first three now."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from vafa.ledger.models import Lot
from vafa.messaging.occasions import greet_occasions
from vafa.messaging.selectors import reminder_days
from vafa.messaging.services import poll_delivery_reports, send_due, send_now
from vafa.outbox.services import emit
from vafa.program.selectors import active_program
from vafa.tenancy.models import Business

__all__ = ["greet_occasions", "poll_delivery_reports", "remind_expiring", "send_due", "send_now"]


def remind_expiring(now: dt.datetime | None = None) -> int:
    """Warn members before their lots expire (each lot once): the messaging setting's days before (default 7),
    or a currency's own reminder_days when the program sets one."""
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
