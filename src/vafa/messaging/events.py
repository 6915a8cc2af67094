"""Transactional messages from committed outbox events (F50).

`take_event` is the outbox handler. Balance changes of a member (earned, spent, code used, return, tier) are
folded into one `composing` message per member, so the five events of one purchase become ONE SMS;
`compose_ready` renders it once every event of that change has been handed over (no older event of the
business is still pending in the outbox), with the member's new total balance, nearest expiry and portal link.
Gift requests, welcomes and expiry reminders are messages of their own. Every kind can be turned off per
business (`disabled_kinds`). Running the handler twice for one event changes nothing (event ids are kept).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from vafa.core.calendar import format_date
from vafa.members.models import Member
from vafa.messaging import selectors, services, templates
from vafa.messaging.models import Message, MessagingSettings
from vafa.outbox.models import OutboxEvent
from vafa.vouchers.models import Redemption

BALANCE_EVENTS = {"points.earned": "points_earned", "points.spent": "points_spent",
                  "credit.earned": "credit_earned", "credit.spent": "credit_spent",
                  "purchase.returned": "return", "purchase.cancelled": "return", "tier.changed": "tier_changed",
                  "purchase.created": "code_used", "points.expiring": "expiry_reminder",
                  "credit.expiring": "expiry_reminder"}
GIFT_EVENTS = {"gift.requested": "gift_requested", "gift.fulfilled": "gift_fulfilled", "gift.shipped": "gift_shipped"}


def take_event(event: OutboxEvent) -> None:
    payload = event.payload if isinstance(event.payload, dict) else {}
    kind = BALANCE_EVENTS.get(event.event_type) or GIFT_EVENTS.get(event.event_type)
    if event.event_type == "member.created":
        kind = "welcome"
    if kind is None or not payload.get("member_id") or payload.get("occasion"):
        return  # an occasion's credit is told in its greeting (messaging.occasions)
    conf = MessagingSettings.objects.filter(business_id=event.business_id).first()
    if conf is None or not services.sends_messages(conf) or (conf.sms_enabled_at
                                                              and event.created_at < conf.sms_enabled_at):
        return  # no messages, or an event from before they were switched on
    member = Member.objects.select_related("business").filter(business_id=event.business_id,
                                                              pk=payload["member_id"]).first()
    if member is None:
        return
    disabled = set(conf.disabled_kinds)
    if kind == "welcome":
        if member.mobile_verified and kind not in disabled:
            queue_welcome(member)
        return
    if kind in GIFT_EVENTS.values():
        _gift_message(member, kind, payload, event, disabled)
        return
    if kind == "code_used":
        _fold(member, event, "code_used", {"codes": _codes_of(member, payload.get("purchase_id"))})
        return
    _fold(member, event, kind, {"amount": int(payload.get("amount") or 0), "currency": payload.get("currency", ""),
                                "to": payload.get("to", ""), "expires_at": payload.get("expires_at", "")})


def _codes_of(member, purchase_id) -> list[str]:
    if not purchase_id:
        return []
    return list(Redemption.objects.filter(business_id=member.business_id, purchase_id=purchase_id)
                .order_by("id").values_list("code__code", flat=True))


def _fold(member, event: OutboxEvent, kind: str, fact: dict) -> None:
    """Add one event to the member's message in composition (a reminder gathers apart from balance changes)."""
    group = "reminder" if kind == "expiry_reminder" else "update"
    if kind == "code_used" and not fact["codes"]:
        return
    with transaction.atomic():
        row = (Message.objects.select_for_update()
               .filter(business_id=member.business_id, member=member, state=Message.State.COMPOSING,
                       kind=group).first())
        if row is None:
            row = Message.objects.create(business_id=member.business_id, member=member, to=member.mobile,
                                         kind=group, state=Message.State.COMPOSING,
                                         message_class=selectors.class_of(kind),
                                         facts={"events": [], "items": []})
        if str(event.event_id) in row.facts["events"]:
            return
        row.facts["events"].append(str(event.event_id))
        row.facts["items"].append({"kind": kind, **fact})
        row.facts["last_at"] = event.created_at.isoformat()
        row.last_event_id = max(row.last_event_id, event.pk)
        row.save(update_fields=["facts", "last_event_id"])


def _gift_message(member, kind: str, payload: dict, event: OutboxEvent, disabled: set[str]) -> None:
    business = member.business
    values = selectors.member_values(business, member, code=str(payload.get("title", "")))
    if kind not in disabled:
        services.queue_message(business, member=member, kind=kind,
                               text=templates.render(selectors.template_text(business, kind), values),
                               dedupe_key=f"event:{event.event_id}")
    admin = selectors.settings_of(business).admin_mobile
    if kind == "gift_requested" and admin and "gift_requested_admin" not in disabled:
        services.queue_message(business, to=admin, kind="gift_requested_admin",
                               text=templates.render(selectors.template_text(business, "gift_requested_admin"),
                                                     values), dedupe_key=f"event:{event.event_id}:admin")


def queue_welcome(member) -> Message | None:
    """The welcome SMS with the member's referral link, once per member."""
    business = member.business
    values = selectors.member_values(business, member, link=selectors.referral_link(business, member))
    return services.queue_message(business, member=member, kind="welcome",
                                  text=templates.render(selectors.template_text(business, "welcome"), values),
                                  dedupe_key=f"welcome:{member.pk}")


def compose(row: Message, now: dt.datetime) -> str:
    """The text of a gathered message: greeting, one line per event kind (amounts of a kind added up), footer."""
    business = row.business
    member = row.member
    disabled = set(selectors.settings_of(business).disabled_kinds)
    items = [i for i in row.facts.get("items", []) if i["kind"] not in disabled]
    if not items or member is None:
        return ""
    if row.kind == "reminder":
        total: dict[str, int] = {}
        for item in items:
            total[item["currency"]] = total.get(item["currency"], 0) + item["amount"]
        first = min(dt.datetime.fromisoformat(i["expires_at"]) for i in items)
        separator = "، " if business.language == "fa" else ", "

        values = selectors.member_values(business, member, now, amount=separator.join(
            selectors.amount_text(business, amount, currency) for currency, amount in total.items()),
            date=format_date(timezone.localtime(first).date(), business.calendar, business.language))
        return templates.render(selectors.template_text(business, "expiry_reminder"), values)
    values = selectors.member_values(business, member, now)
    lines = [templates.render(selectors.template_text(business, "greeting"), values)]
    for kind in templates.LINE_KINDS:
        of_kind = [i for i in items if i["kind"] == kind]
        if not of_kind:
            continue
        if kind == "code_used":
            codes = [code for i in of_kind for code in i["codes"]]
            lines.append(templates.render(selectors.template_text(business, kind), values | {"code": "، ".join(codes)
                                          if business.language == "fa" else ", ".join(codes)}))
            continue
        by_currency: dict[str, int] = {}
        for item in of_kind:
            by_currency[item["currency"]] = by_currency.get(item["currency"], 0) + item["amount"]
        for currency, amount in by_currency.items():
            amount_text = selectors.amount_text(business, amount, currency) if currency else ""
            lines.append(templates.render(selectors.template_text(business, kind), values | {"amount": amount_text}))
    lines.append(templates.render(selectors.template_text(business, "footer"), values))
    return "\n".join(line for line in lines if line)


def compose_ready(now: dt.datetime | None = None) -> int:
    """Render the gathered messages whose change is complete and queue them. Answers how many were queued."""
    now = now or timezone.now()
    queued = 0
    for row_id in list(Message.objects.filter(state=Message.State.COMPOSING).values_list("pk", flat=True)):
        with transaction.atomic():
            row = (Message.objects.select_for_update(of=("self",)).select_related("business", "member")
                   .filter(pk=row_id, state=Message.State.COMPOSING).first())
            if row is None:
                continue
            last_at = dt.datetime.fromisoformat(row.facts.get("last_at") or now.isoformat())
            waiting = OutboxEvent.objects.filter(business_id=row.business_id, status=OutboxEvent.Status.PENDING,
                                                 created_at__lte=last_at + services.SETTLE).exists()
            if waiting and now - row.created_at < services.COMPOSE_GIVE_UP:
                continue  # an event of the same change is still on its way
            text = compose(row, now)
            size = templates.measure(text)
            conf = selectors.settings_of(row.business)
            row.text, row.parts, row.cost = text, size.parts, size.parts * conf.price_per_part
            row.kind = "expiry_reminder" if row.kind == "reminder" else "balance_update"
            row.state = Message.State.QUEUED if text else Message.State.SKIPPED
            row.next_attempt_at = now
            if not text:
                row.error, row.final_at = "nothing_to_say", now
            channels = services.channels_for(conf, row.member, row.message_class) if text else []
            if Message.Channel.EMAIL in channels:
                if Message.Channel.SMS in channels:
                    services.queue_message(row.business, member=row.member, kind=row.kind, text=text,
                                           message_class=row.message_class, channel=Message.Channel.EMAIL,
                                           dedupe_key=f"message:{row.pk}:email", at=now)
                else:  # by email instead: the gathered row itself goes as the mail
                    row.channel, row.to, row.parts, row.cost = Message.Channel.EMAIL, row.member.email, 0, 0
            row.save()
            queued += int(bool(text))
    return queued
