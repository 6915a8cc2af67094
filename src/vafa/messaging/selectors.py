"""Reads: a business's messaging settings and templates, what a member's message says, and the message log."""

from __future__ import annotations

import datetime as dt

from django.conf import settings as django_settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from vafa.core.calendar import format_date
from vafa.core.errors import InvalidInput
from vafa.ledger.models import Lot
from vafa.ledger.selectors import balances
from vafa.messaging import secrets, templates
from vafa.messaging.channels import channel_for
from vafa.messaging.models import Broadcast, Message, MessageClass, MessageTemplate, MessagingSettings
from vafa.messaging.occasion_settings import holidays_of
from vafa.program.document import localize
from vafa.program.engine import Context, describe_amount
from vafa.program.selectors import active_program


def settings_of(business) -> MessagingSettings:
    """The business's row, or the defaults (unsaved) when it never changed them."""
    row = MessagingSettings.objects.filter(business_id=business.pk).first()
    return row if row is not None else MessagingSettings(business=business)


def settings_json(conf: MessagingSettings) -> dict:
    key = secrets.decrypt(conf.sms_api_key_encrypted)
    return {"sms_provider": conf.sms_provider, "sms_api_key": secrets.last4(key), "sms_sender": conf.sms_sender,
            "sms_service_sender": conf.sms_service_sender, "price_per_part": conf.price_per_part,
            "quiet_hours": {"start": conf.quiet_start, "end": conf.quiet_end}, "opt_out_word": conf.opt_out_word,
            "admin_mobile": conf.admin_mobile, "email_from": conf.email_from,
            "disabled_kinds": list(conf.disabled_kinds), "birthday_on": conf.birthday_on,
            "otp_template": conf.otp_template, "holidays": holidays_of(conf),
            "expiry_reminder_days": conf.expiry_reminder_days, "occasion_gifts": dict(conf.occasion_gifts),
            "email_channel": conf.email_channel,
            "inbound_url": f"{django_settings.PUBLIC_URL}/api/v1/messaging/inbound/kavenegar/{conf.inbound_token}"
            if conf.inbound_token else ""}


def provider_account(business) -> dict | None:
    """What the SMS provider says of the business's account (Kavenegar's account/info: credit, expiry), or None
    when no provider is set. A call to the provider: the back office asks for it apart from the page."""
    conf = settings_of(business)
    channel = channel_for(conf.sms_provider, secrets.decrypt(conf.sms_api_key_encrypted))
    return None if channel is None else provider_account_of(channel)


def reminder_days(business, currency_settings) -> int:
    """How many days before a lot expires its member is reminded: the currency's own `reminder_days` when the
    program sets one, else the business's messaging setting (default 7)."""
    if currency_settings.reminder_days is not None:
        return currency_settings.reminder_days
    return settings_of(business).expiry_reminder_days


def template_text(business, kind: str, language: str | None = None) -> str:
    language = language or business.language
    row = MessageTemplate.objects.filter(business_id=business.pk, kind=kind, language=language).first()
    return row.text if row is not None else templates.DEFAULTS[kind][language]


def templates_json(business) -> list[dict]:
    own = {(t.kind, t.language): t.text for t in MessageTemplate.objects.filter(business_id=business.pk)}
    return [{"kind": kind, "language": language, "text": own.get((kind, language), texts[language]),
             "customised": (kind, language) in own, "class": class_of(kind)}
            for kind, texts in templates.DEFAULTS.items() for language in ("fa", "en")]


def amount_text(business, amount: int, currency: str) -> str:
    """120 points → '۱۲۰ امتیاز'; wallet credit in the business currency ('۵۰٬۰۰۰ تومان اعتبار کیف پول')."""
    return describe_amount(amount, currency, Context(language=business.language, currency=business.currency))


def portal_link(business) -> str:
    return f"{django_settings.PUBLIC_URL}/m/{business.slug}/"


def referral_link(business, member) -> str:
    return f"{django_settings.PUBLIC_URL}/join/{business.slug}/?ref={member.code}"


def member_values(business, member, now: dt.datetime | None = None, *, needs: set[str] | None = None,
                  **extra: str) -> dict[str, str]:
    """The variables of a message to this member: name, balances (every currency it holds), the nearest expiry,
    tier, the portal link and the business; `extra` adds or overrides (amount, code …). With `needs` (the
    variables a text uses) only those that cost a query are looked up — a broadcast renders thousands."""
    now = now or timezone.now()
    wanted = set(templates.VARIABLES) if needs is None else needs
    values = {"first_name": member.first_name or ("مشتری" if business.language == "fa" else "customer"),
              "balance": "", "currency": "", "amount": "", "code": "", "date": "", "tier": "",
              "link": portal_link(business), "business": business.name}
    if "balance" in wanted:
        held = [amount_text(business, b["available"], currency)
                for currency, b in balances(member).items() if b["available"] > 0]
        values["balance"] = ("، " if business.language == "fa" else ", ").join(held)
    if "date" in wanted:
        nearest = (Lot.objects.filter(business_id=business.pk, member=member, state=Lot.State.OPEN, remaining__gt=0,
                                      expires_at__gt=now).aggregate(first=Min("expires_at"))["first"])
        if nearest:
            values["date"] = format_date(timezone.localtime(nearest).date(), business.calendar, business.language)
    if "tier" in wanted:
        values["tier"] = tier_name(business, member.tier)
    return values | extra


def tier_name(business, code: str) -> str:
    if not code:
        return ""
    _, document = active_program(business)
    for level in (document.tiers.levels if document.tiers else []):
        if level.code == code:
            return localize(level.name, business.language)
    return code


def messages(business, *, member_id: int | None = None, broadcast_id: int | None = None, status: str | None = None):
    rows = Message.objects.filter(business_id=business.pk)
    if member_id is not None:
        rows = rows.filter(member_id=member_id)
    if broadcast_id is not None:
        rows = rows.filter(broadcast_id=broadcast_id)
    if status:
        rows = rows.filter(state=status)
    return rows


def broadcast_counts(broadcast: Broadcast) -> dict[str, int]:
    counts = dict(Message.objects.filter(business_id=broadcast.business_id, broadcast=broadcast)
                  .values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in Message.State.values if state != Message.State.COMPOSING}


def totals_by_state(business=None) -> dict[str, dict]:
    """`vafa messages status`: messages and cost by state."""
    rows = Message.objects.all() if business is None else Message.objects.filter(business_id=business.pk)
    return {r["state"]: {"messages": r["n"], "parts": r["parts"] or 0, "cost": r["cost"] or 0}
            for r in rows.values("state").annotate(n=Count("id"), parts=Sum("parts"), cost=Sum("cost"))}


def preview(business, *, kind: str | None, text: str | None, member=None) -> dict:
    """A template (or free text) rendered for a member, or for sample values, with its size and cost."""
    if text is None and kind not in templates.KINDS:
        raise InvalidInput("kind", "unknown_choice")
    source = text if text is not None else template_text(business, kind)
    if templates.unknown_variables(source):
        raise InvalidInput("text", "unknown_variable")
    fa = business.language == "fa"
    values = (member_values(business, member) if member is not None else
              {"first_name": "سارا" if fa else "Sara", "balance": amount_text(business, 1200, "points"),
               "date": format_date(timezone.localdate() + dt.timedelta(days=30), business.calendar, business.language),
               "tier": "", "link": portal_link(business), "business": business.name})
    # A member's own values leave the amount, code and gift empty (they belong to an event): the sample fills them.
    values = {"amount": amount_text(business, 120, "points"), "code": "SPRING",
              "gift": amount_text(business, 50_000, "gift_credit")} | {k: v for k, v in values.items() if v}
    rendered = templates.render(source, values)
    size = templates.measure(rendered)
    return {"text": rendered, "encoding": size.encoding, "characters": size.characters, "parts": size.parts,
            "cost": size.parts * settings_of(business).price_per_part}


def message_json(row: Message) -> dict:
    return {"id": row.pk, "member_id": row.member_id, "broadcast_id": row.broadcast_id, "channel": row.channel,
            "to": row.to, "kind": row.kind, "message_class": row.message_class, "state": row.state,
            "text": row.text, "parts": row.parts, "cost": row.cost, "provider": row.provider,
            "provider_message_id": row.provider_message_id, "error": row.error, "attempts": row.attempts,
            "created_at": row.created_at, "sent_at": row.sent_at}


def class_of(kind: str) -> str:
    if kind in templates.INFORMATIONAL_KINDS:
        return MessageClass.INFORMATIONAL
    if kind == "promotion":
        return MessageClass.PROMOTIONAL
    return MessageClass.TRANSACTIONAL


def provider_account_of(channel) -> dict:
    """What the provider says about the account, or the error it gave: the credit is extra information."""
    try:
        return channel.account_info()
    except Exception as exc:  # noqa: BLE001 - the credit is extra information
        return {"error": getattr(exc, "reason", exc.__class__.__name__)}
