"""Webhooks: endpoints a business registers, the fan-out of committed outbox events into deliveries, and the
signed, retried POSTs.

The flow is: a use case writes an OutboxEvent in its own transaction → after commit, `outbox.deliver_due` runs
every handler, ours included (`fan_out`), which writes one WebhookDelivery per subscribed endpoint (idempotent:
unique per business, endpoint and event id) → `deliver_webhooks` (a periodic job) claims due deliveries,
POSTs them *outside* any transaction, and records each attempt in a short transaction. A failure is retried
with exponential backoff; at-least-once is the contract, so receivers dedupe by `X-Vafa-Event-Id`.

Every request carries::

    Content-Type: application/json
    User-Agent: Vafa-Webhooks/1
    X-Vafa-Event: member.created
    X-Vafa-Event-Id: 5f0c…            (the same on every retry; dedupe by it)
    X-Vafa-Signature: t=1718000000,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

and the body ``{"id", "type", "created_at", "business", "data"}``. Receivers check it with `verify_signature`.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.outbox.models import OutboxEvent
from vafa.webhooks import addresses
from vafa.webhooks.models import (
    ALL_EVENTS,
    EVENT_TYPES,
    TEST_EVENT,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from vafa.webhooks.selectors import endpoint_by_id

log = logging.getLogger("vafa.webhooks")

USER_AGENT = "Vafa-Webhooks/1"
TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 10
LEASE = dt.timedelta(seconds=60)  # a claimed delivery is not due again for this long (≫ TIMEOUT_SECONDS)
MAX_URL_LENGTH = 500
SIGNATURE_TOLERANCE = 300


# --- endpoints ------------------------------------------------------------------------------------------------

def _clean_url(url, errors: list[dict]) -> str:
    if not isinstance(url, str) or not url.strip():
        errors.append({"field": "url", "message": "required"})
        return ""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        errors.append({"field": "url", "message": "too_long"})
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number or out of range
    except ValueError:
        errors.append({"field": "url", "message": "not_an_http_url"})
        return url
    if (parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc
            or any(c.isspace() or ord(c) < 32 for c in url)):
        errors.append({"field": "url", "message": "not_an_http_url"})
    elif addresses.refused_at_save(parts.hostname):
        errors.append({"field": "url", "message": "address_not_allowed"})
    return url


def _clean_events(events, errors: list[dict]) -> list[str]:
    if not isinstance(events, list) or not events:
        errors.append({"field": "events", "message": "required"})
        return []
    clean: list[str] = []
    for i, event in enumerate(events):
        if not isinstance(event, str) or (event != ALL_EVENTS and event not in EVENT_TYPES):
            errors.append({"field": f"events.{i}", "message": "unknown_event"})
        elif event not in clean:
            clean.append(event)
    return [ALL_EVENTS] if ALL_EVENTS in clean else clean


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create_endpoint(business, *, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """A new endpoint with a fresh secret (answered on the row; show it to the business once)."""
    errors: list[dict] = []
    url = _clean_url(url, errors)
    events = _clean_events(events, errors)
    if len(description or "") > 200:
        errors.append({"field": "description", "message": "too_long"})
    if errors:
        raise InvalidInput(errors=errors)
    return WebhookEndpoint.objects.create(business=business, url=url, events=events,
                                          description=description or "", secret=new_secret())


def update_endpoint(business, endpoint_id: int, **changes) -> WebhookEndpoint:
    """Change url, events, active or description; anything else is refused."""
    errors: list[dict] = []
    unknown = set(changes) - {"url", "events", "active", "description"}
    errors.extend({"field": name, "message": "unknown_field"} for name in sorted(unknown))
    clean: dict = {}
    if "url" in changes:
        clean["url"] = _clean_url(changes["url"], errors)
    if "events" in changes:
        clean["events"] = _clean_events(changes["events"], errors)
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            errors.append({"field": "active", "message": "required" if changes["active"] is None
                           else "must_be_boolean"})
        clean["active"] = changes["active"]
    if "description" in changes:
        description = changes["description"]
        if description is not None and not isinstance(description, str):
            errors.append({"field": "description", "message": "must_be_text"})
        elif len(description or "") > 200:
            errors.append({"field": "description", "message": "too_long"})
        clean["description"] = description or ""
    if errors:
        raise InvalidInput(errors=errors)
    with transaction.atomic():
        endpoint = endpoint_by_id(business, endpoint_id, lock=True)
        for name, value in clean.items():
            setattr(endpoint, name, value)
        if clean:
            endpoint.save(update_fields=list(clean))
    return endpoint


def delete_endpoint(business, endpoint_id: int) -> None:
    """Remove the endpoint with its deliveries and their log; nothing more is sent to it."""
    with transaction.atomic():
        endpoint_by_id(business, endpoint_id, lock=True).delete()


def send_test(business, endpoint_id: int) -> WebhookDelivery:
    """Queue a "webhook.test" delivery to one endpoint, whatever events it chose."""
    endpoint = endpoint_by_id(business, endpoint_id)
    if not endpoint.active:
        raise Conflict("webhook_inactive")
    now = timezone.now()
    return WebhookDelivery.objects.create(
        business=business, endpoint=endpoint, event_type=TEST_EVENT, created_at=now, next_attempt_at=now,
        payload={"webhook_id": endpoint.pk, "message": "A test event from Vafa. Answer 2xx to acknowledge it."})


def retry_delivery(business, delivery_id: int) -> WebhookDelivery:
    """Make a failed (given up) or waiting delivery due now: the worker tries it once more on its next pass."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update()
                    .filter(business=business, pk=delivery_id).first())
        if delivery is None:
            raise NotFound("not_found")
        if delivery.status == WebhookDelivery.Status.DELIVERED:
            raise Conflict("already_done")
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery


# --- fan-out: the outbox handler ----------------------------------------------------------------------------

def fan_out(event: OutboxEvent) -> int:
    """Outbox handler: one delivery per active endpoint of the event's business that subscribed to its type and
    existed when it happened. Safe to run twice for one event (get_or_create on the unique key). Answers how
    many deliveries it created."""
    created = 0
    endpoints = WebhookEndpoint.objects.filter(business_id=event.business_id, active=True,
                                               created_at__lte=event.created_at)
    for endpoint in endpoints:
        if not endpoint.wants(event.event_type):
            continue
        _, new = WebhookDelivery.objects.get_or_create(
            business_id=event.business_id, endpoint=endpoint, event_id=event.event_id,
            defaults={"event_type": event.event_type, "payload": event.payload, "created_at": event.created_at,
                      "next_attempt_at": timezone.now()})
        created += int(new)
    return created


# --- signing --------------------------------------------------------------------------------------------------

def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Vafa-Signature header value for a body sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str | None, body: bytes | str, tolerance: int = SIGNATURE_TOLERANCE,
                     now: float | None = None) -> bool:
    """Check a webhook on the receiving side. Pass the endpoint's secret, the X-Vafa-Signature header and the
    raw request body exactly as received (bytes; not re-serialised JSON). True when one of the header's `v1`
    signatures is HMAC-SHA256(secret, "<t>.<body>") and `t` is within `tolerance` seconds of `now` (default:
    the current time), which stops an old request from being replayed. Compares in constant time.

        if not verify_signature(SECRET, request.headers["X-Vafa-Signature"], request.body):
            return 400
        if seen(request.headers["X-Vafa-Event-Id"]): return 200   # at-least-once: dedupe by event id
    """
    if not header or not secret:
        return False
    if isinstance(body, str):
        body = body.encode()
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# --- delivery -------------------------------------------------------------------------------------------------

def backoff(attempt: int) -> dt.timedelta:
    """Wait after the attempt-th failure: 10 s, 20 s, 40 s … capped at 6 hours."""
    return dt.timedelta(seconds=min(10 * 2 ** (attempt - 1), 6 * 3600))


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps({"id": str(delivery.event_id), "type": delivery.event_type,
                       "created_at": delivery.created_at.isoformat(), "business": delivery.business.slug,
                       "data": delivery.payload}, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: we do not follow it (and never turn a POST into a GET)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def error_class(exc: BaseException) -> str:
    """What went wrong with a POST, as a class: never the receiver's words (its body, or an error text that
    would turn the delivery log into a port scanner's report)."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, addresses.AddressNotAllowed):
        return "address not allowed"
    if isinstance(exc, socket.gaierror):
        return "name not resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "TLS error"
    return "connection failed"


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    """POST one delivery; answers (status code or None, error class, duration in ms). Never raises. The
    answer's body is never read into anything kept: a status code says all a sender needs."""
    body = body_of(delivery)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Vafa-Event": delivery.event_type, "X-Vafa-Event-Id": str(delivery.event_id),
               "X-Vafa-Signature": sign(delivery.endpoint.secret, body, int(time.time()))}
    request = urllib.request.Request(delivery.endpoint.url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        with addresses.opener(_NoRedirects).open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        error = f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, DNS, TLS: all mean "try again later"
        error = error_class(exc)
    duration = int((time.monotonic() - started) * 1000)
    return status, error, duration


def _claim(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    """Take a due delivery for LEASE, in a short transaction: skip it if another worker holds its row lock,
    else a conditional UPDATE (still pending, still due) moves it out of reach; it is not due again until the
    lease runs out, so a worker that died mid-POST is retried. Of two workers only one wins."""
    due = {"pk": delivery_id, "status": WebhookDelivery.Status.PENDING, "next_attempt_at__lte": now}
    with transaction.atomic():
        locked = (WebhookDelivery.objects.select_for_update(skip_locked=True).filter(**due)
                  .values_list("pk", flat=True).first())
        taken = locked is not None and WebhookDelivery.objects.filter(**due).update(next_attempt_at=now + LEASE)
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("endpoint", "business").get(pk=delivery_id)


def _record(delivery: WebhookDelivery, *, at: dt.datetime, finished: dt.datetime, status: int | None,
            error: str, duration_ms: int) -> bool:
    """Log the attempt and move the delivery on, in one short transaction. Answers whether it was delivered."""
    ok = status is not None and 200 <= status < 300
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        row.attempts += 1
        WebhookAttempt.objects.create(business_id=row.business_id, delivery=row, number=row.attempts, at=at,
                                      status_code=status, error="" if ok else error, duration_ms=duration_ms)
        row.last_status_code = status
        if row.status != WebhookDelivery.Status.PENDING:
            pass  # another worker (after our lease ran out) settled it already; keep its outcome
        elif ok:
            row.status = WebhookDelivery.Status.DELIVERED
            row.delivered_at = finished
            row.last_error = ""
        else:
            row.last_error = error[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = WebhookDelivery.Status.FAILED
            else:
                row.next_attempt_at = finished + backoff(row.attempts)
        row.save()
    if not ok:
        gave_up = row.status == WebhookDelivery.Status.FAILED
        log.log(logging.WARNING if gave_up else logging.INFO, "webhook %s %s to %s failed (attempt %s%s): %s",
                row.event_type, row.event_id, delivery.endpoint.url, row.attempts, ", gave up" if gave_up else "",
                error)
    return ok


def deliver_webhooks(now: dt.datetime | None = None, limit: int = 100) -> int:
    """Send due deliveries (the periodic job). Each is claimed in a short transaction, POSTed outside any
    transaction, and its outcome recorded in another. Answers how many were delivered."""
    given = now or timezone.now()
    started = time.monotonic()

    def clock() -> dt.datetime:  # `now` moved on by the time spent here, so leases and backoff stay honest
        return given + dt.timedelta(seconds=time.monotonic() - started)

    delivered = 0
    ids = list(WebhookDelivery.objects
               .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=given)
               .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    for delivery_id in ids:
        moment = clock()
        delivery = _claim(delivery_id, moment)
        if delivery is None:
            continue
        if not delivery.endpoint.active:
            WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
                status=WebhookDelivery.Status.FAILED, last_error="endpoint inactive")
            continue
        status, error, duration = _post(delivery)
        delivered += _record(delivery, at=moment, finished=clock(), status=status, error=error,
                             duration_ms=duration)
    return delivered
