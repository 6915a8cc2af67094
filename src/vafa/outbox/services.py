"""Write side effects to the outbox inside the caller's transaction; deliver them after commit."""

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from vafa.core.sql import WritePlan
from vafa.outbox.models import OutboxEvent

log = logging.getLogger("vafa.outbox")

# Delivery handlers by name; each takes an event and raises to ask for a retry. Later apps (webhooks, SMS)
# register theirs here; the log handler keeps a trace of every event: its type, id and business only, never
# its payload (mobile numbers, names, amounts do not belong in logs; the payload stays in the database).
HANDLERS: dict[str, Callable[[OutboxEvent], None]] = {
    "log": lambda event: log.info("event %s %s business %s", event.event_type, event.event_id,
                                  event.business_id),
}
MAX_ATTEMPTS = 12


_pending = threading.local()  # the events of the use case running in this thread, when it batches them


def emit(business_id: int, event_type: str, payload: dict) -> OutboxEvent | None:
    """An event for delivery after commit. Inside a use case's batch (batched()) it is a row of the batch's
    insert, and answers None; alone, it is saved at once and answered."""
    row = {"business_id": business_id, "event_type": event_type, "payload": payload}
    batch = getattr(_pending, "events", None)
    if batch is not None:
        batch.append(row)  # inserted with the others when the use case's batch closes, and timed then
        return None
    event = OutboxEvent(**row, next_attempt_at=timezone.now())
    event.save(force_insert=True)
    return event


@contextmanager
def batched() -> Iterator[None]:
    """Collect the events a use case emits and insert them in one statement when it is done, inside its
    transaction. A use case that fails writes none (its transaction is rolled back anyway)."""
    outer = getattr(_pending, "events", None)
    if outer is not None:  # already inside a batch: the outer one inserts
        yield
        return
    _pending.events = []
    try:
        yield
        plan = WritePlan()
        into_plan(plan)
        _pending.events = None
        plan.write()
    finally:
        _pending.events = None


def into_plan(plan: WritePlan) -> None:
    """The events the current batch holds so far, into the use case's write plan (written with its other rows,
    in the same round trip); the batch goes on collecting."""
    events = getattr(_pending, "events", None)
    if events:
        now = timezone.now()  # one moment for the batch: the plan turns each distinct one into text (SQLite)
        plan.insert(OutboxEvent, [row | {"created_at": now, "next_attempt_at": now} for row in events])
        events.clear()


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2 ** attempts * 5, 6 * 3600))


def deliver_due(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Deliver due events, each in its own transaction with a row lock so two workers never both take it."""
    now = now or timezone.now()
    delivered = 0
    ids = list(OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    for event_id in ids:
        with transaction.atomic():
            event = (OutboxEvent.objects.select_for_update(skip_locked=True)
                     .filter(pk=event_id, status=OutboxEvent.Status.PENDING).first())
            if event is None:
                continue
            event.attempts += 1
            try:
                for handler in HANDLERS.values():
                    # A savepoint per handler: a database error inside one leaves this transaction usable
                    # for recording the failure (PostgreSQL aborts the whole transaction otherwise).
                    with transaction.atomic():
                        handler(event)
            except Exception as exc:  # noqa: BLE001 - any failure of a receiver means "try again later"
                event.last_error = str(exc)[:2000]
                if event.attempts >= MAX_ATTEMPTS:
                    event.status = OutboxEvent.Status.FAILED
                else:
                    event.next_attempt_at = now + backoff(event.attempts)
            else:
                event.status = OutboxEvent.Status.DELIVERED
                event.delivered_at = now
                delivered += 1
            event.save()
    return delivered
