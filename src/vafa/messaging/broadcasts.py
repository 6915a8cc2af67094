"""Broadcasts (F51, F53): an audience of members, a template or free text, promotional or not, now or at a time.

When a broadcast is due its recipients are queued as Message rows in batches (each with the dedupe key
`broadcast:<id>:<member>`, so queuing twice after a crash queues nobody twice); the sender then hands them to
the provider with `sendarray`, 200 at a time, throttled, resumable (services.deliver)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from vafa.core.calendar import birth_month, parse_date
from vafa.core.errors import InvalidInput, NotFound
from vafa.ledger.models import Account
from vafa.members.models import Member
from vafa.messaging import selectors, services, templates
from vafa.messaging.models import Broadcast, MessageClass, OptOut
from vafa.messaging.models import Message as Msg
from vafa.purchases.models import Purchase

AUDIENCE_FIELDS = ("tier", "branch", "join_source", "birth_month", "last_purchase_before", "last_purchase_after",
                   "spend_min", "spend_max", "points_min", "points_max", "has_email")
QUEUE_BATCH = 2000


def clean_audience(business, audience: dict) -> dict:
    errors: list[dict] = []
    errors.extend({"field": f"audience.{k}", "message": "unknown_field"} for k in sorted(set(audience) - set(AUDIENCE_FIELDS)))
    clean: dict = {}
    for name in ("tier", "branch", "join_source"):
        if audience.get(name) is not None:
            clean[name] = [str(v) for v in audience[name]] if isinstance(audience[name], list) else [str(audience[name])]
    if audience.get("birth_month") is not None:
        month = audience["birth_month"]
        if not isinstance(month, int) or not 1 <= month <= 12:
            errors.append({"field": "audience.birth_month", "message": "unknown_choice"})
        clean["birth_month"] = month
    for name in ("last_purchase_before", "last_purchase_after"):
        if audience.get(name):
            try:
                clean[name] = parse_date(audience[name], f"audience.{name}").isoformat()
            except InvalidInput as exc:
                errors.extend(exc.errors)
    for name in ("spend_min", "spend_max", "points_min", "points_max"):
        if audience.get(name) is not None:
            if not isinstance(audience[name], int) or isinstance(audience[name], bool):
                errors.append({"field": f"audience.{name}", "message": "must_be_integer"})
            clean[name] = audience[name]
    if audience.get("has_email") is not None:
        clean["has_email"] = bool(audience["has_email"])
    if errors:
        raise InvalidInput(errors=errors)
    return clean


def audience_members(business, audience: dict, promotional: bool):
    """The members an audience selects (active ones; for promotional messages, not those who opted out)."""
    members = Member.objects.filter(business=business, status=Member.Status.ACTIVE)
    if "tier" in audience:
        members = members.filter(tier__in=audience["tier"])
    if "join_source" in audience:
        members = members.filter(join_source__in=audience["join_source"])
    if audience.get("has_email") is not None:
        members = members.exclude(email="") if audience["has_email"] else members.filter(email="")
    purchases = Purchase.objects.filter(business=business, member=OuterRef("pk"))
    if "branch" in audience:
        last_branch = purchases.order_by("-occurred_at", "-id").values("branch__code")[:1]
        members = members.annotate(last_branch=Subquery(last_branch)).filter(last_branch__in=audience["branch"])
    if "last_purchase_before" in audience or "last_purchase_after" in audience:
        members = members.annotate(last_purchase=Max("purchases__occurred_at"))
        if "last_purchase_before" in audience:
            members = members.filter(last_purchase__date__lt=audience["last_purchase_before"])
        if "last_purchase_after" in audience:
            members = members.filter(last_purchase__date__gte=audience["last_purchase_after"])
    if "spend_min" in audience or "spend_max" in audience:
        members = members.annotate(total_spend=Subquery(purchases.values("member").annotate(s=Sum("spend"))
                                                        .values("s")[:1]))
        if "spend_min" in audience:
            members = members.filter(total_spend__gte=audience["spend_min"])
        if "spend_max" in audience:
            members = members.filter(Q(total_spend__lte=audience["spend_max"]) | Q(total_spend__isnull=True))
    if "points_min" in audience or "points_max" in audience:
        points = Account.objects.filter(business=business, member=OuterRef("pk"), currency="points",
                                        kind="available").values("balance")[:1]
        members = members.annotate(points=Subquery(points))
        if "points_min" in audience:
            members = members.filter(points__gte=audience["points_min"])
        if "points_max" in audience:
            members = members.filter(Q(points__lte=audience["points_max"]) | Q(points__isnull=True))
    if promotional:
        members = members.exclude(pk__in=OptOut.objects.filter(business=business).values("member_id"))
    else:
        members = members.exclude(pk__in=OptOut.objects.filter(business=business, everything=True)
                                  .values("member_id"))
    if "birth_month" in audience:
        ids = [m.pk for m in members.filter(birth_date__isnull=False).only("pk", "birth_date")
               if birth_month(m.birth_date, business.calendar) == audience["birth_month"]]
        members = Member.objects.filter(business=business, pk__in=ids)
    return members.order_by("pk")


class _Text:
    """A broadcast's text, looked up once and rendered per member (with the opt-out line when promotional)."""

    def __init__(self, business, text: str, template_kind: str, promotional: bool) -> None:
        self.business = business
        self.source = text or selectors.template_text(business, template_kind or "promotion")
        self.needs = templates.variables_in(self.source)
        self.tail = selectors.template_text(business, "opt_out_line") if promotional else ""

    def for_member(self, member) -> str:
        text = templates.render(self.source, selectors.member_values(self.business, member, needs=self.needs))
        return f"{text}\n{self.tail}" if self.tail else text


def create_broadcast(business, *, audience: dict, text: str = "", template: str = "", promotional: bool = True,
                     send_at: dt.datetime | None = None, dry_run: bool = False, created_by: str = "") -> dict:
    errors: list[dict] = []
    if not text and not template:
        errors.append({"field": "text", "message": "required"})
    if text and templates.unknown_variables(text):
        errors.append({"field": "text", "message": "unknown_variable"})
    if len(text) > 1000:
        errors.append({"field": "text", "message": "too_long"})
    if template and template not in templates.KINDS:
        errors.append({"field": "template", "message": "unknown_choice"})
    try:
        clean = clean_audience(business, audience or {})
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors=errors)
    members = audience_members(business, clean, promotional)
    conf = selectors.settings_of(business)
    recipients = members.count()
    sample = members.first()
    sample_text = _Text(business, text, template, promotional).for_member(sample) if sample is not None else ""
    parts = templates.measure(sample_text).parts
    estimate = {"recipients": recipients, "parts_per_message": parts, "parts": parts * recipients,
                "cost": parts * recipients * conf.price_per_part, "sample": sample_text}
    if dry_run:
        return estimate | {"dry_run": True}
    row = Broadcast.objects.create(business=business, audience=clean, text=text, template_kind=template,
                                   promotional=promotional, send_at=send_at or timezone.now(), created_by=created_by,
                                   recipients=recipients)
    return estimate | {"dry_run": False, "id": row.pk, "state": row.state, "send_at": row.send_at.isoformat()}


def queue_broadcast(broadcast: Broadcast, now: dt.datetime) -> int:
    """Queue a due broadcast's recipients, QUEUE_BATCH at a time, each batch in its own short transaction;
    safe to run again after a crash (the dedupe key). Answers how many were queued."""
    business = broadcast.business
    conf = selectors.settings_of(business)
    klass = MessageClass.PROMOTIONAL if broadcast.promotional else MessageClass.INFORMATIONAL
    next_at = services.not_in_quiet_hours(business, conf, now) if broadcast.promotional else now
    text_of = _Text(business, broadcast.text, broadcast.template_kind, broadcast.promotional)
    done = set(Msg.objects.filter(business=business, broadcast=broadcast).values_list("member_id", flat=True))
    queued = 0
    batch: list[Msg] = []

    def flush() -> None:
        with transaction.atomic():
            Msg.objects.bulk_create(batch, ignore_conflicts=True)

    for member in audience_members(business, broadcast.audience, broadcast.promotional).iterator(chunk_size=QUEUE_BATCH):
        if member.pk in done:
            continue
        text = text_of.for_member(member)
        size = templates.measure(text)
        batch.append(Msg(business=business, member=member, broadcast=broadcast, to=member.mobile, text=text,
                         kind="broadcast", message_class=klass, parts=size.parts, cost=size.parts * conf.price_per_part,
                         dedupe_key=f"broadcast:{broadcast.pk}:{member.pk}", created_at=now, next_attempt_at=next_at))
        if len(batch) >= QUEUE_BATCH:
            flush()
            queued += len(batch)
            batch = []
    if batch:
        flush()
        queued += len(batch)
    Broadcast.objects.filter(pk=broadcast.pk).update(state=Broadcast.State.QUEUED)
    return queued


def queue_due_broadcasts(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    queued = 0
    for broadcast in Broadcast.objects.select_related("business").filter(state=Broadcast.State.SCHEDULED,
                                                                         send_at__lte=now):
        queued += queue_broadcast(broadcast, now)
    return queued


def broadcast_by_id(business, broadcast_id: int) -> Broadcast:
    row = Broadcast.objects.filter(business=business, pk=broadcast_id).first()
    if row is None:
        raise NotFound("not_found")
    return row
