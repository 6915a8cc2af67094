"""Reads of the catalogue: what a member can see today, one business's gifts and requests."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from vafa.catalogue.models import Gift, GiftCode, GiftGroup, GiftRequest
from vafa.core.errors import NotFound


def business_today(business, at: dt.datetime | None = None) -> dt.date:
    """Today's date in the business's timezone: display windows are inclusive dates there."""
    return (at or timezone.now()).astimezone(ZoneInfo(business.timezone)).date()


def is_displayed(gift: Gift, today: dt.date) -> bool:
    return (gift.active and (gift.display_from is None or gift.display_from <= today)
            and (gift.display_until is None or today <= gift.display_until))


def gifts(business, *, visible_on: dt.date | None = None, group_id: int | None = None) -> QuerySet[Gift]:
    """The business's gifts in catalogue order, with the count of available codes; only those on display
    on `visible_on` when it is given."""
    queryset = Gift.objects.filter(business=business).select_related("group")
    if visible_on is not None:
        queryset = queryset.filter(Q(display_from__isnull=True) | Q(display_from__lte=visible_on),
                                   Q(display_until__isnull=True) | Q(display_until__gte=visible_on), active=True)
    if group_id is not None:
        queryset = queryset.filter(group_id=group_id)
    return (queryset.annotate(available_codes=Count("codes", filter=Q(codes__status=GiftCode.Status.AVAILABLE)))
            .order_by("group__position", "group_id", "title", "pk"))


def gift_by_id(business, gift_id: int) -> Gift:
    gift = gifts(business).filter(pk=gift_id).first()
    if gift is None:
        raise NotFound("gift_not_found")
    return gift


def groups(business) -> QuerySet[GiftGroup]:
    return GiftGroup.objects.filter(business=business).order_by("position", "pk")


def available_codes(gift: Gift) -> int:
    return GiftCode.objects.filter(business_id=gift.business_id, gift=gift, status=GiftCode.Status.AVAILABLE).count()


def stock_left(gift: Gift) -> int | None:
    """Units that can still be requested: available codes for a partner gift, else `stock` (None: unlimited)."""
    if gift.is_partner:
        counted = getattr(gift, "available_codes", None)
        return counted if counted is not None else available_codes(gift)
    return gift.stock


def requests(business, *, status: str | None = None, member_id: int | None = None,
             gift_id: int | None = None) -> QuerySet[GiftRequest]:
    queryset = GiftRequest.objects.filter(business=business).select_related("gift")
    if status:
        queryset = queryset.filter(status=status)
    if member_id is not None:
        queryset = queryset.filter(member_id=member_id)
    if gift_id is not None:
        queryset = queryset.filter(gift_id=gift_id)
    return queryset


def request_by_id(business, request_id: int) -> GiftRequest:
    found = requests(business).filter(pk=request_id).first()
    if found is None:
        raise NotFound("gift_request_not_found")
    return found


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def group_json(group: GiftGroup) -> dict:
    return {"id": group.pk, "title": group.title, "position": group.position}


def gift_json(gift: Gift) -> dict:
    return {"id": gift.pk, "group_id": gift.group_id, "group_title": gift.group.title if gift.group_id else None,
            "title": gift.title, "description": gift.description, "picture": gift.picture,
            "display_from": _iso(gift.display_from), "display_until": _iso(gift.display_until),
            "price_currency": gift.price_currency, "price": gift.price, "stock": stock_left(gift),
            "partner_name": gift.partner_name, "active": gift.active}


def request_json(found: GiftRequest) -> dict:
    return {"id": found.pk, "member_id": found.member_id, "gift_id": found.gift_id, "gift_title": found.gift.title,
            "price_currency": found.price_currency, "price": found.price, "status": found.status,
            "code": found.code or None, "shipping_note": found.shipping_note, "note": found.note,
            "debit_entry_id": found.debit_entry_id, "refund_entry_id": found.refund_entry_id,
            "requested_at": _iso(found.requested_at), "fulfilled_at": _iso(found.fulfilled_at),
            "rejected_at": _iso(found.rejected_at), "shipped_at": _iso(found.shipped_at),
            "requested_by": found.actor_label, "handled_by": found.handled_by_label}
