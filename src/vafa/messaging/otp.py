"""One-time codes for proving a mobile (the join page, the member portal, customer-registered purchases).

5 digits, stored only as an HMAC under the deployment's secret, valid 2 minutes, 5 tries. Rate limits, kept in
the database so every worker process counts the same: per mobile 1 code a minute and 5 an hour, per client
address 20 an hour. The answers are the same whether or not the mobile belongs to a member."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, VafaError
from vafa.core.phone import mobile_or_problem
from vafa.messaging import secrets as vafa_secrets
from vafa.messaging import selectors, services, templates
from vafa.messaging.channels import channel_for
from vafa.messaging.models import Message as Msg
from vafa.messaging.models import MessageClass, OneTimeCode

LIFETIME = dt.timedelta(minutes=2)
MAX_TRIES = 5
PER_MOBILE_GAP = dt.timedelta(seconds=60)
PER_MOBILE_HOURLY = 5
PER_ADDRESS_HOURLY = 20
PURPOSES = ("join", "login", "purchase")


class TooManyRequests(VafaError):
    status = 429
    code = "rate_limited"


class TooManyAttempts(VafaError):
    status = 429
    code = "too_many_attempts"


def code_hash(business_id: int, mobile: str, purpose: str, code: str) -> str:
    message = f"{business_id}:{mobile}:{purpose}:{code}".encode()
    return hmac.new(django_settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _clean(business, mobile, purpose) -> str:
    errors: list[dict] = []
    normalized = mobile_or_problem(mobile, business.phone_region, errors)
    if purpose not in PURPOSES:
        errors.append({"field": "purpose", "message": "unknown_choice"})
    if errors:
        raise InvalidInput(errors=errors)
    return normalized


def check_rate(business, mobile: str, client_address: str, now: dt.datetime) -> None:
    """Raise TooManyRequests (with retry_after seconds) when this mobile or address asked too often."""
    hour_ago = now - dt.timedelta(hours=1)
    recent = list(OneTimeCode.objects.filter(business=business, mobile=mobile, created_at__gt=hour_ago)
                  .order_by("-created_at").values_list("created_at", flat=True)[:PER_MOBILE_HOURLY])
    if recent and now - recent[0] < PER_MOBILE_GAP:
        raise TooManyRequests("rate_limited", retry_after=int((PER_MOBILE_GAP - (now - recent[0])).total_seconds()) + 1)
    if len(recent) >= PER_MOBILE_HOURLY:
        raise TooManyRequests("rate_limited", retry_after=int((recent[-1] + dt.timedelta(hours=1) - now)
                                                              .total_seconds()) + 1)
    if client_address and OneTimeCode.objects.filter(business=business, client_address=client_address,
                                                     created_at__gt=hour_ago).count() >= PER_ADDRESS_HOURLY:
        raise TooManyRequests("rate_limited", retry_after=3600)


def request_code(business, mobile: str, purpose: str, client_address: str = "",
                 now: dt.datetime | None = None) -> dict:
    """Send a code to the mobile. Answers {"mobile", "expires_in"} whoever the mobile belongs to."""
    now = now or timezone.now()
    normalized = _clean(business, mobile, purpose)
    code = f"{secrets.randbelow(100000):05d}"
    with transaction.atomic():
        check_rate(business, normalized, client_address or "", now)
        OneTimeCode.objects.create(business=business, mobile=normalized, purpose=purpose,
                                   code_hash=code_hash(business.pk, normalized, purpose, code),
                                   client_address=(client_address or "")[:64], created_at=now,
                                   expires_at=now + LIFETIME)
        text = templates.render(selectors.template_text(business, "otp"),
                                {"code": code, "business": business.name})
        # The log keeps the message but never the code itself.
        row = services.queue_message(business, to=normalized, kind="otp", message_class=MessageClass.TRANSACTIONAL,
                                     text=text.replace(code, "•••••"), at=now)
        Msg.objects.filter(pk=row.pk).update(state=Msg.State.SENDING, attempts=1)
    _send_now(business, row, normalized, code, text)
    return {"mobile": normalized, "expires_in": int(LIFETIME.total_seconds())}


def _send_now(business, row: Msg, mobile: str, code: str, text: str) -> None:
    """Codes go at once, not with the next worker run."""
    conf = selectors.settings_of(business)
    channel = channel_for(conf.sms_provider, vafa_secrets.decrypt(conf.sms_api_key_encrypted))
    if channel is None:
        Msg.objects.filter(pk=row.pk).update(state=Msg.State.SKIPPED, error="no_channel", final_at=timezone.now())
        return
    try:
        outcome = channel.send_code(mobile, code, text, conf.otp_template, row.pk)
    except Exception as exc:  # noqa: BLE001 - the member asks again; never a 5xx for a provider's trouble
        services.log.warning("one-time code not sent: %s", exc.__class__.__name__)
        Msg.objects.filter(pk=row.pk).update(state=Msg.State.FAILED, error="channel_error", final_at=timezone.now())
        return
    if outcome.state in ("retry", "unknown"):  # a code is useless two minutes later: the member asks again
        outcome = type(outcome)(outcome.message_id, "failed", error=outcome.error)
    services._record([outcome], timezone.now(), channel.name)


def verify_code(business, mobile: str, purpose: str, code: str, now: dt.datetime | None = None) -> str:
    """Check a code; answers the normalized mobile. A wrong code counts a try (even though the answer is an
    error); the 5th wrong try or expiry ends the code."""
    now = now or timezone.now()
    normalized = _clean(business, mobile, purpose)
    code = str(code or "").strip()

    code = to_ascii_digits(code)
    outcome = ""
    with transaction.atomic():
        row = (OneTimeCode.objects.select_for_update()
               .filter(business=business, mobile=normalized, purpose=purpose, used_at__isnull=True)
               .order_by("-created_at").first())
        if row is None or row.expires_at <= now:
            outcome = "code_expired"
        elif row.attempts >= MAX_TRIES:
            outcome = "too_many_attempts"
        elif hmac.compare_digest(row.code_hash, code_hash(business.pk, normalized, purpose, code)):
            row.used_at = now
            row.save(update_fields=["used_at"])
        else:
            row.attempts += 1
            row.save(update_fields=["attempts"])
            outcome = "too_many_attempts" if row.attempts >= MAX_TRIES else "wrong_code"
    if outcome == "too_many_attempts":
        raise TooManyAttempts("too_many_attempts")
    if outcome:
        raise InvalidInput("code", outcome)
    return normalized
