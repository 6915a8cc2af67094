"""Messaging: the only writer of settings, templates, the message log, opt-outs and one-time codes, and the
sender that hands queued messages to a channel.

A message's life: queued (or composing, while the events of one change gather) → sending (claimed, in one
transaction) → sent / delivered / failed / blocked, recorded with the provider's message id in another. A worker
killed between the two leaves `sending` rows; the next run asks the provider by our message id (Kavenegar's
`statuslocalmessageid`) before sending any of them again, so nobody gets a message twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets as stdlib_secrets
import time
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.phone import normalize_mobile
from vafa.members.models import Member
from vafa.messaging import secrets, selectors, templates
from vafa.messaging.channels import (
    BLOCKED,
    DELIVERED,
    FAILED,
    RETRY,
    SENT,
    UNKNOWN,
    Outcome,
    Outgoing,
    channel_for,
)
from vafa.messaging.channels.email import EmailChannel
from vafa.messaging.channels.kavenegar import MESSAGE_STATES
from vafa.messaging.models import Message as Msg
from vafa.messaging.models import MessageClass, MessageTemplate, MessagingSettings, OptOut, Provider
from vafa.messaging.occasion_settings import clean_gifts, clean_holidays

log = logging.getLogger("vafa.messaging")

MAX_ATTEMPTS = 8
LEASE = dt.timedelta(seconds=120)  # a `sending` row older than this was left by a worker that died
STATUS_POLL_AFTER = dt.timedelta(seconds=60)
STATUS_POLL_FOR = dt.timedelta(days=3)  # an operator that never reports within this stays "sent"
SETTLE = dt.timedelta(seconds=1)  # events of one transaction are this close together
COMPOSE_GIVE_UP = dt.timedelta(minutes=10)  # a change whose events do not all arrive is sent anyway
BATCHES_PER_SECOND = float(os.environ.get("VAFA_SMS_BATCHES_PER_SECOND", "5"))  # the provider's call limit
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
SETTINGS_FIELDS = ("sms_provider", "sms_api_key", "sms_sender", "sms_service_sender", "price_per_part",
                   "quiet_hours", "opt_out_word", "admin_mobile", "email_from", "disabled_kinds", "birthday_on",
                   "otp_template", "holidays", "expiry_reminder_days", "occasion_gifts", "email_channel")
EMAIL_CHANNELS = ("off", "also", "instead")


class AlreadyQueued(Exception):
    """A message with this dedupe key exists: raised to roll back what was written for it (a gift)."""


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(2 ** attempts * 15, 3600))


# --- settings ---------------------------------------------------------------------------------------------------

def update_settings(business, **changes) -> MessagingSettings:
    """Change some settings (a PUT may send only the fields it changes). All problems at once; nothing written
    when one is wrong."""
    errors: list[dict] = []
    errors.extend({"field": name, "message": "unknown_field"} for name in sorted(set(changes) - set(SETTINGS_FIELDS)))
    clean: dict = {}
    for name in ("sms_sender", "sms_service_sender", "opt_out_word", "email_from", "otp_template"):
        if name in changes:
            value = changes[name]
            if not isinstance(value, str):
                errors.append({"field": name, "message": "must_be_text"})
            elif len(value) > {"email_from": 200, "otp_template": 64}.get(name, 20):
                errors.append({"field": name, "message": "too_long"})
            else:
                clean[name] = value.strip()
    if "sms_provider" in changes:
        if changes["sms_provider"] not in Provider.values:
            errors.append({"field": "sms_provider", "message": "unknown_choice"})
        clean["sms_provider"] = changes["sms_provider"]
    if "sms_api_key" in changes:
        key = changes["sms_api_key"]
        if not isinstance(key, str) or len(key) > 200 or not re.fullmatch(r"[A-Za-z0-9_\-=+/.]*", key):
            errors.append({"field": "sms_api_key", "message": "bad_text"})
        else:
            clean["sms_api_key_encrypted"] = secrets.encrypt(key)
    if "price_per_part" in changes:
        price = changes["price_per_part"]
        if not isinstance(price, int) or isinstance(price, bool) or not 0 <= price <= 10**9:
            errors.append({"field": "price_per_part", "message": "must_not_be_negative"})
        clean["price_per_part"] = price
    if "quiet_hours" in changes:
        hours = changes["quiet_hours"]
        if (not isinstance(hours, dict) or set(hours) != {"start", "end"}
                or not all(isinstance(v, str) and _TIME.match(v) for v in hours.values())):
            errors.append({"field": "quiet_hours", "message": "bad_quiet_hours"})
        else:
            clean["quiet_start"], clean["quiet_end"] = hours["start"], hours["end"]
    if "admin_mobile" in changes:
        if changes["admin_mobile"]:
            try:
                clean["admin_mobile"] = normalize_mobile(changes["admin_mobile"], business.phone_region)
            except InvalidInput:
                errors.append({"field": "admin_mobile", "message": "not_a_mobile"})
        else:
            clean["admin_mobile"] = ""
    if "disabled_kinds" in changes:
        kinds = changes["disabled_kinds"]
        if not isinstance(kinds, list) or any(k not in templates.KINDS for k in kinds):
            errors.append({"field": "disabled_kinds", "message": "unknown_choice"})
        else:
            clean["disabled_kinds"] = sorted(set(kinds))
    if "birthday_on" in changes:
        if changes["birthday_on"] not in ("day", "month"):
            errors.append({"field": "birthday_on", "message": "unknown_choice"})
        clean["birthday_on"] = changes["birthday_on"]
    if "holidays" in changes:
        try:
            clean["holidays"] = clean_holidays(changes["holidays"])
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if "expiry_reminder_days" in changes:
        days = changes["expiry_reminder_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
            errors.append({"field": "expiry_reminder_days", "message": "out_of_range"})
        clean["expiry_reminder_days"] = days
    if "occasion_gifts" in changes:
        try:
            clean["occasion_gifts"] = clean_gifts(business, changes["occasion_gifts"])
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if "email_channel" in changes:
        if changes["email_channel"] not in EMAIL_CHANNELS:
            errors.append({"field": "email_channel", "message": "unknown_choice"})
        clean["email_channel"] = changes["email_channel"]
    if errors:
        raise InvalidInput(errors=errors)
    with transaction.atomic():
        row, _ = MessagingSettings.objects.select_for_update().get_or_create(business=business)
        was_silent = not sends_messages(row)
        for name, value in clean.items():
            setattr(row, name, value)
        if was_silent and sends_messages(row):
            row.sms_enabled_at = timezone.now()
        if not row.inbound_token:
            row.inbound_token = new_token()
        row.save()
    return row


def new_token() -> str:
    return stdlib_secrets.token_urlsafe(24)


# --- templates --------------------------------------------------------------------------------------------------

def save_templates(business, items: list[dict]) -> None:
    """Replace the texts of some kinds and languages. An unknown variable is refused here, at save time, so a
    message never goes out broken. An empty text goes back to the default."""
    errors: list[dict] = []
    for i, item in enumerate(items):
        kind, language, text = item.get("kind"), item.get("language"), item.get("text")
        if kind not in templates.KINDS:
            errors.append({"field": f"{i}.kind", "message": "unknown_choice"})
        if language not in ("fa", "en"):
            errors.append({"field": f"{i}.language", "message": "unknown_choice"})
        if not isinstance(text, str) or len(text) > 1000:
            errors.append({"field": f"{i}.text", "message": "too_long" if isinstance(text, str) else "required"})
        elif templates.unknown_variables(text):
            errors.append({"field": f"{i}.text", "message": "unknown_variable",
                           "variables": templates.unknown_variables(text)})
    if errors:
        raise InvalidInput(errors=[{k: v for k, v in e.items() if k != "variables"} |
                                   ({"message": f"unknown_variable: {', '.join(e['variables'])}"}
                                    if "variables" in e else {}) for e in errors])
    with transaction.atomic():
        for item in items:
            if item["text"].strip():
                MessageTemplate.objects.update_or_create(business=business, kind=item["kind"],
                                                         language=item["language"],
                                                         defaults={"text": item["text"].strip()})
            else:
                MessageTemplate.objects.filter(business=business, kind=item["kind"],
                                               language=item["language"]).delete()


# --- queueing ---------------------------------------------------------------------------------------------------

def sends_messages(conf: MessagingSettings) -> bool:
    """Whether the business sends members anything: by SMS, or by email."""
    return conf.sms_provider != Provider.NONE or conf.email_channel != "off"


def channels_for(conf: MessagingSettings, member, klass: str) -> list[str]:
    """The channels of a message to a member: promotional ones by SMS; transactional and informational ones by
    SMS and, as the business chose, also or instead by email when the member has one."""
    if member is None or klass == MessageClass.PROMOTIONAL or not member.email or conf.email_channel == "off":
        return [Msg.Channel.SMS]
    if conf.email_channel == "instead" or conf.sms_provider == Provider.NONE:
        return [Msg.Channel.EMAIL]
    return [Msg.Channel.SMS, Msg.Channel.EMAIL]


def queue_message(business, *, member=None, to: str | None = None, kind: str, text: str,
                  message_class: str | None = None, dedupe_key: str = "", channel: str | None = None,
                  broadcast=None, subject: str = "", at: dt.datetime | None = None) -> Msg | None:
    """A message ready to send (the caller's transaction), by `channel`, or by the channels the business chose
    for this member (channels_for: an email twin gets the dedupe key with ":email"). Answers the first row, or
    None when the key was already queued (once only)."""
    conf = selectors.settings_of(business)
    klass = message_class or selectors.class_of(kind)
    at = at or timezone.now()
    rows = []
    for number, name in enumerate([channel] if channel else channels_for(conf, member, klass)):
        size = templates.measure(text) if name == Msg.Channel.SMS else None
        rows.append(Msg(
            business=business, member=member, broadcast=broadcast, channel=name, kind=kind, message_class=klass,
            to=to or (member.email if name == Msg.Channel.EMAIL else member.mobile), text=text, subject=subject,
            dedupe_key=f"{dedupe_key}:{name}" if dedupe_key and number else dedupe_key, created_at=at,
            next_attempt_at=not_in_quiet_hours(business, conf, at) if klass == MessageClass.PROMOTIONAL else at,
            parts=size.parts if size else 0, cost=(size.parts if size else 0) * conf.price_per_part))
    if dedupe_key:
        if Msg.objects.filter(business=business, dedupe_key=dedupe_key).exists():
            return None
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin loses on the unique key, quietly
                for row in rows:
                    row.save()
        except IntegrityError:
            return None
        return rows[0]
    for row in rows:
        row.save()
    return rows[0]


def not_in_quiet_hours(business, conf: MessagingSettings, at: dt.datetime) -> dt.datetime:
    """`at`, or the next start of the sending window when `at` falls in the night (business timezone)."""
    zone = ZoneInfo(business.timezone)
    local = at.astimezone(zone)
    start = dt.time.fromisoformat(conf.quiet_start)
    end = dt.time.fromisoformat(conf.quiet_end)
    if start <= local.time() < end:
        return at
    day = local.date() if local.time() < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone)


def opt_out(business, member, *, everything: bool = False, how: str = "api") -> OptOut:
    with transaction.atomic():
        row, created = OptOut.objects.select_for_update().get_or_create(
            business=business, member=member, defaults={"everything": everything, "how": how})
        if not created and everything and not row.everything:
            row.everything = True
            row.save(update_fields=["everything"])
    return row


def opt_in(business, member) -> None:
    OptOut.objects.filter(business=business, member=member).delete()


def delivery_report(token: str, provider_message_id: str, status: str) -> bool:
    """Kavenegar's delivery callback (the same URL as replies): a final status for one of our messages.
    Answers whether a message changed."""
    conf = MessagingSettings.objects.filter(inbound_token=token).first() if token else None
    if conf is None:
        raise NotFound("not_found")
    try:
        state = MESSAGE_STATES.get(int(status))
    except ValueError:
        return False
    if state is None or not provider_message_id:
        return False
    return bool(Msg.objects.filter(business_id=conf.business_id, provider_message_id=str(provider_message_id)[:64],
                                   state=Msg.State.SENT).update(state=state, final_at=timezone.now()))


def inbound_reply(token: str, sender_mobile: str, text: str) -> bool:
    """Kavenegar's callback for a member's reply: the business's opt-out word opts the sender out of promotional
    messages. Answers whether someone was opted out."""
    conf = MessagingSettings.objects.select_related("business").filter(inbound_token=token).first() if token else None
    if conf is None:
        raise NotFound("not_found")

    words = {conf.opt_out_word.strip(), to_ascii_digits(conf.opt_out_word.strip()), "11", "لغو", "STOP", "stop"}
    if to_ascii_digits(text.strip()) not in {to_ascii_digits(w) for w in words if w}:
        return False
    try:
        mobile = normalize_mobile(sender_mobile, conf.business.phone_region)
    except InvalidInput:
        return False
    member = Member.objects.filter(business=conf.business, mobile=mobile).first()
    if member is None:
        return False
    opt_out(conf.business, member, how="reply")
    return True


# --- sending ----------------------------------------------------------------------------------------------------

class _Channels:
    """The channel of each business, built once per run."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, str], object] = {}

    def get(self, business_id: int, channel: str):
        key = (business_id, channel)
        if key not in self.cache:
            if channel == Msg.Channel.EMAIL:
                self.cache[key] = EmailChannel()
            else:
                conf = MessagingSettings.objects.filter(business_id=business_id).first()
                self.cache[key] = channel_for(conf.sms_provider, secrets.decrypt(conf.sms_api_key_encrypted)) \
                    if conf else None
        return self.cache[key]


def _outgoing(row: Msg, conf: MessagingSettings | None) -> Outgoing:
    sender = ""
    if conf is not None:
        if row.channel == Msg.Channel.EMAIL:
            sender = conf.email_from
        elif row.message_class == MessageClass.PROMOTIONAL:
            sender = conf.sms_sender
        else:
            sender = conf.sms_service_sender or conf.sms_sender
    html = ""
    if row.channel == Msg.Channel.EMAIL:
        html = templates.render_html(row.text, row.business.language)
    return Outgoing(row.pk, row.to, row.text, sender=sender, kind=row.kind, member_id=row.member_id,
                    subject=row.subject or row.business.name, html=html)


def _record(outcomes: list[Outcome], now: dt.datetime, provider: str) -> None:
    """The outcome of a batch: each row's state with its provider message id, in one transaction."""
    with transaction.atomic():
        for outcome in outcomes:
            changes: dict = {"provider": provider, "error": outcome.error[:300]}
            if outcome.state in (SENT, DELIVERED, FAILED, BLOCKED):
                changes |= {"state": outcome.state, "provider_message_id": outcome.provider_message_id}
                if outcome.state in (SENT, DELIVERED):
                    changes["sent_at"] = now
                    if outcome.cost:
                        changes["cost"] = outcome.cost
                if outcome.state != SENT:
                    changes["final_at"] = now
                Msg.objects.filter(pk=outcome.message_id, state=Msg.State.SENDING).update(**changes)
            else:  # RETRY, or UNKNOWN: stays `sending` so the next run asks the provider before sending again
                row = Msg.objects.filter(pk=outcome.message_id, state=Msg.State.SENDING).first()
                if row is None:
                    continue
                if row.attempts >= MAX_ATTEMPTS:
                    changes |= {"state": Msg.State.FAILED, "final_at": now}
                elif outcome.state == UNKNOWN:
                    changes |= {"next_attempt_at": now + backoff(row.attempts)}
                else:
                    changes |= {"state": Msg.State.QUEUED, "next_attempt_at": now + backoff(row.attempts)}
                Msg.objects.filter(pk=row.pk, state=Msg.State.SENDING).update(**changes)


def _blocked_by_opt_out(rows: list[Msg]) -> set[int]:
    member_ids = {r.member_id for r in rows if r.member_id}
    if not member_ids:
        return set()
    outs = dict(OptOut.objects.filter(business_id=rows[0].business_id, member_id__in=member_ids)
                .values_list("member_id", "everything"))
    return {r.pk for r in rows if r.member_id in outs and r.kind != "otp"
            and (outs[r.member_id] or r.message_class == MessageClass.PROMOTIONAL)}


def _claim(business_id: int, channel: str, limit: int, now: dt.datetime) -> list[Msg]:
    """Take up to `limit` due queued messages of one business and channel: state `sending` with a lease, in one
    transaction, so a second worker never takes the same rows."""
    with transaction.atomic():
        ids = list(Msg.objects.select_for_update(skip_locked=True)
                   .filter(business_id=business_id, channel=channel, state=Msg.State.QUEUED, next_attempt_at__lte=now)
                   .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        rows = list(Msg.objects.select_related("business").filter(pk__in=ids, state=Msg.State.QUEUED)
                    .order_by("id"))
        blocked = _blocked_by_opt_out(rows)
        if blocked:
            Msg.objects.filter(pk__in=blocked).update(state=Msg.State.BLOCKED, error="opted_out", final_at=now)
        rows = [r for r in rows if r.pk not in blocked]

        Msg.objects.filter(pk__in=[r.pk for r in rows]).update(state=Msg.State.SENDING, attempts=F("attempts") + 1,
                                                               next_attempt_at=now + LEASE)
        for row in rows:
            row.attempts += 1
    return rows


def _recover(channels: _Channels, now: dt.datetime) -> int:
    """Rows left `sending` by a worker that died: those the provider already took are recorded as sent, the
    others go back to the queue. Answers how many were found sent."""
    found_total = 0
    stale = (Msg.objects.filter(state=Msg.State.SENDING, next_attempt_at__lte=now)
             .values_list("business_id", "channel").distinct())
    for business_id, channel_name in list(stale):
        channel = channels.get(business_id, channel_name)
        conf = MessagingSettings.objects.filter(business_id=business_id).first()
        rows = list(Msg.objects.select_related("business").filter(
            business_id=business_id, channel=channel_name, state=Msg.State.SENDING, next_attempt_at__lte=now)
            .order_by("id")[:2000])
        for start in range(0, len(rows), 200):
            chunk = rows[start:start + 200]
            try:
                found = channel.find_sent([_outgoing(r, conf) for r in chunk]) if channel else {}
            except Exception as exc:  # noqa: BLE001 - cannot ask now: leave them for the next run
                log.warning("could not ask the provider about %d messages: %s", len(chunk), exc.__class__.__name__)
                continue
            found_total += len(found)
            _record(list(found.values()), now, getattr(channel, "name", ""))
            Msg.objects.filter(pk__in=[r.pk for r in chunk if r.pk not in found], state=Msg.State.SENDING) \
                .update(state=Msg.State.QUEUED, next_attempt_at=now)
    return found_total


def deliver(now: dt.datetime | None = None, *, max_batches: int | None = None, throttle: bool = True) -> int:
    """Hand every due queued message to its channel, batch by batch. Answers how many were handed over."""
    now = now or timezone.now()
    channels = _Channels()
    _recover(channels, now)
    handed = 0
    batches = 0
    pairs = list(Msg.objects.filter(state=Msg.State.QUEUED, next_attempt_at__lte=now)
                 .values_list("business_id", "channel").distinct())
    for business_id, channel_name in pairs:
        channel = channels.get(business_id, channel_name)
        conf = MessagingSettings.objects.filter(business_id=business_id).first()
        if channel is None:
            Msg.objects.filter(business_id=business_id, channel=channel_name, state=Msg.State.QUEUED,
                               next_attempt_at__lte=now).update(state=Msg.State.SKIPPED, error="no_channel",
                                                                final_at=now)
            continue
        while max_batches is None or batches < max_batches:
            started = time.monotonic()
            rows = _claim(business_id, channel_name, channel.batch_size, now)
            if not rows:
                break
            try:
                outcomes = channel.send([_outgoing(r, conf) for r in rows])
            except Exception as exc:  # noqa: BLE001 - a channel bug must not lose the batch
                log.warning("channel %s failed: %s", channel.name, exc.__class__.__name__)
                outcomes = [Outcome(r.pk, UNKNOWN, error="channel_error") for r in rows]
            _record(outcomes, now, channel.name)
            handed += sum(1 for o in outcomes if o.state not in (RETRY, UNKNOWN))
            batches += 1
            if throttle and BATCHES_PER_SECOND > 0:
                time.sleep(max(0.0, 1 / BATCHES_PER_SECOND - (time.monotonic() - started)))
    return handed


def poll_delivery_reports(now: dt.datetime | None = None) -> int:
    """Ask the providers about messages sent a while ago and not yet final; answers how many became final."""
    now = now or timezone.now()
    channels = _Channels()
    changed = 0
    window = {"sent_at__lte": now - STATUS_POLL_AFTER, "sent_at__gte": now - STATUS_POLL_FOR}
    pending = (Msg.objects.filter(state=Msg.State.SENT, channel=Msg.Channel.SMS, **window)
               .exclude(provider_message_id="").values_list("business_id", flat=True).distinct())
    for business_id in list(pending):
        channel = channels.get(business_id, Msg.Channel.SMS)
        if channel is None:
            continue
        rows = dict(Msg.objects.filter(business_id=business_id, state=Msg.State.SENT, channel=Msg.Channel.SMS,
                                       **window).exclude(provider_message_id="")
                    .values_list("provider_message_id", "pk")[:5000])
        try:
            states = channel.poll_status(list(rows))
        except Exception as exc:  # noqa: BLE001 - reports can wait for the next run
            log.warning("status poll failed: %s", exc.__class__.__name__)
            continue
        with transaction.atomic():
            for provider_id, state in states.items():
                if provider_id in rows:
                    changed += Msg.objects.filter(pk=rows[provider_id], state=Msg.State.SENT).update(
                        state=state, final_at=now)
    return changed


def send_test(business, to: str, text: str = "") -> dict:
    """`vafa sms test`: one message through the configured channel, at once; answers the provider's answer."""
    conf = selectors.settings_of(business)
    channel = channel_for(conf.sms_provider, secrets.decrypt(conf.sms_api_key_encrypted))
    if channel is None:
        raise InvalidInput("sms_provider", "no_sms_provider")
    mobile = normalize_mobile(to, business.phone_region)
    with transaction.atomic():  # claimed as it is written: no worker sends it too
        row = queue_message(business, to=mobile, kind="test", message_class=MessageClass.TRANSACTIONAL,
                            text=text or (f"پیام آزمایشی از {business.name}" if business.language == "fa"
                                          else f"A test message from {business.name}"))
        Msg.objects.filter(pk=row.pk).update(state=Msg.State.SENDING, attempts=1)
    row.refresh_from_db()
    outcome = channel.send([_outgoing(row, conf)])[0]
    _record([outcome], timezone.now(), channel.name)
    row.refresh_from_db()
    return {"message_id": row.pk, "state": row.state, "provider_message_id": row.provider_message_id,
            "error": row.error, "account": selectors.provider_account_of(channel)}
