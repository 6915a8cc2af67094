"""The messaging jobs in vafa.jobs (run by `vafa jobs run-due` and `vafa worker`): `send_messages` every round,
`message_reports` every 5 minutes, `greetings` hourly, `remind_expiring` daily; `vafa messages send-due` runs the
first three now."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from vafa.ledger.models import Lot
from vafa.messaging.broadcasts import queue_due_broadcasts
from vafa.messaging.events import compose_ready
from vafa.messaging.occasions import greet_occasions
from vafa.messaging.selectors import reminder_days
from vafa.messaging.services import deliver, poll_delivery_reports
from vafa.outbox.services import emit
from vafa.program.selectors import active_program
from vafa.tenancy.models import Business


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


def send_now(now: dt.datetime | None = None) -> dict[str, int]:
    """The worker's every-round part: compose gathered events, queue due broadcasts, send."""
    now = now or timezone.now()
    return {"composed": compose_ready(now), "broadcast_recipients": queue_due_broadcasts(now),
            "handed": deliver(now)}


def send_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Everything due (`vafa messages send-due`): today's greetings, then compose, queue and send, then poll
    delivery reports. The worker runs the greetings hourly and the reports every few minutes instead."""
    now = now or timezone.now()
    greeted = greet_occasions(now)
    return {"greetings": greeted} | send_now(now) | {"reports": poll_delivery_reports(now)}
