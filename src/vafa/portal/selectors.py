"""What the member's screens read: plain data, formatted by the panel's template filters."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from vafa.catalogue import selectors as catalogue
from vafa.core.errors import NotFound
from vafa.ledger.selectors import balances, expiring_soon, ledger_entries
from vafa.members.models import Card, Member
from vafa.program.document import ProgramDocument, StampRule, localize
from vafa.program.engine import current_rate, tier_progress
from vafa.program.selectors import active_program
from vafa.purchases.models import Purchase
from vafa.purchases.selectors import counted_purchases, tier_metric
from vafa.tenancy.models import Branch
from vafa.vouchers.models import VoucherCode, VoucherDefinition


def program_of(business) -> ProgramDocument | None:
    try:
        return active_program(business)[1]
    except NotFound:
        return None


def qr_code(text: str) -> segno.QRCode:
    """Always a full QR code: for short text segno would pick a Micro QR, which phone cameras and the till's
    scanner (jsQR) cannot read."""
    return segno.make_qr(text, error="m")


def qr_svg(text: str, scale: int = 5) -> str:
    out = io.BytesIO()
    qr_code(text).save(out, kind="svg", scale=scale, xmldecl=False, svgns=True, omitsize=True)
    return out.getvalue().decode()


def card_number(member: Member) -> str:
    """The number the till scans: the member's active card, else the member code (the till finds both)."""
    card = member.cards.filter(status=Card.Status.ACTIVE).order_by("-issued_at", "-id").first()
    return card.number if card else member.code


@dataclass
class StampCard:
    name: str
    have: int
    every: int


def stamp_cards(member: Member, document: ProgramDocument | None, language: str) -> list[StampCard]:
    if document is None:
        return []
    cards = []
    for rule in document.rules:
        if isinstance(rule, StampRule):
            count = (counted_purchases(member).count() if rule.counts == "purchase"
                     else member.visits.count())
            cards.append(StampCard(localize(rule.reward.name, language) or rule.reward.code,
                                   count % rule.every, rule.every))
    return cards


def home(member: Member) -> dict:
    business = member.business
    document = program_of(business)
    now = timezone.now()
    language = business.language
    progress = None
    if document is not None and document.tiers:
        progress = tier_progress(document, member.tier or None, tier_metric(member, document, now))
    number = card_number(member)
    return {
        "balances": balances(member, now),
        "progress": progress,
        "tier_basis": document.tiers.basis if document is not None and document.tiers else "",
        "current_tier": localize(progress.current.name, language) if progress and progress.current else "",
        "next_tier": localize(progress.next.name, language) if progress and progress.next else "",
        "next_perks": [localize(p, language) for p in progress.next.perks] if progress and progress.next else [],
        "next_tier_level": progress.next if progress else None,
        "stamps": stamp_cards(member, document, language),
        "rewards": member.issued_rewards.filter(status="issued").order_by("expires_at", "-issued_at")[:20],
        "expiring": expiring_soon(member, 30, now),
        "card_number": number,
        "card_qr": qr_svg(number, 6),
    }


def history(member: Member) -> dict:
    return {
        "purchases": (Purchase.objects.filter(business_id=member.business_id, member=member)
                      .select_related("branch").order_by("-occurred_at", "-id")[:50]),
        "visits": member.visits.select_related("branch").order_by("-occurred_at")[:20],
        "entries": ledger_entries(member, limit=100),
    }


def loyalty_table(business) -> dict:
    document = program_of(business)
    table = document.loyalty_table if document else None
    today = catalogue.business_today(business)
    return {"table": table, "rate_today": current_rate(document, today) if document else None,
            "language": business.language}


def affordable_gifts(member: Member) -> list[dict]:
    held = balances(member)
    rows = []
    for gift in catalogue.gifts(member.business, visible_on=catalogue.business_today(member.business)):
        have = held.get(gift.price_currency, {}).get("available", 0)
        left = catalogue.stock_left(gift)
        rows.append({"gift": gift, "affordable": have >= gift.price and left != 0, "short": max(gift.price - have, 0),
                     "out_of_stock": left == 0})
    return rows


def referral(member: Member) -> dict:
    link = (f"{settings.PUBLIC_URL}/m/{member.business.slug}/sign-in/?"
            f"{urlencode({'ref': member.code, 'source': 'referral'})}")
    return {"code": member.code, "link": link, "qr": qr_svg(link, 4),
            "joined": Member.objects.filter(business_id=member.business_id, referred_by=member).count()}


def branches(business):
    return Branch.objects.filter(business=business, active=True).order_by("name")


def map_link(address: str) -> str:
    """A map search for the address: the branch has no coordinates, and a search opens in any map app."""
    return "https://www.openstreetmap.org/search?" + urlencode({"query": address}) if address.strip() else ""


def contact(business) -> dict:
    rows = [{"name": b.name, "address": b.address, "map": map_link(b.address)} for b in branches(business)]
    return {"branches": rows, "phone": business.contact_phone, "address": business.contact_address,
            "address_map": map_link(business.contact_address), "website": business.website,
            "instagram": business.instagram}


def offers(member: Member) -> dict:
    """What the member holds or may use: rewards held (what each gives, where, until when) and the running
    discount codes open to everyone or to the member's tier (shared codes only; a single-use code is a
    person's and never listed)."""
    today = catalogue.business_today(member.business)
    rewards = (member.issued_rewards.filter(status="issued")
               .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())).order_by("expires_at", "id"))
    running = (VoucherDefinition.objects.filter(business_id=member.business_id, active=True)
               .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today), Q(ends_on__isnull=True) | Q(ends_on__gte=today))
               .order_by("ends_on", "id"))
    vouchers = []
    for definition in running:
        if definition.tiers and member.tier not in definition.tiers:
            continue
        code = (VoucherCode.objects.filter(business_id=member.business_id, definition=definition,
                                           status=VoucherCode.Status.ACTIVE, max_uses__isnull=True)
                .order_by("id").first())
        if code is not None:
            vouchers.append({"definition": definition, "code": code.code})
    return {"rewards": rewards[:50], "vouchers": vouchers[:50]}
