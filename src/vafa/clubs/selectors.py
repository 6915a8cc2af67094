"""Reads for club types: subscriptions, causes with their totals, partners."""

from django.db.models import Count, Sum

from vafa.access.permissions import Forbidden
from vafa.clubs.models import Cause, Donation, Partnership, Subscription
from vafa.core.errors import NotFound
from vafa.core.phone import normalize_mobile
from vafa.members.models import Member
from vafa.tenancy.models import Business


def subscriptions_of(member: Member):
    return Subscription.objects.filter(business_id=member.business_id, member=member).order_by("-starts_at", "-pk")


def causes(business):
    return Cause.objects.filter(business=business).order_by("code")


def cause_totals(business) -> dict[int, dict]:
    """Points donated and distinct donors per cause id."""
    rows = (Donation.objects.filter(business=business).values("cause_id")
            .annotate(points=Sum("points"), donors=Count("member_id", distinct=True)))
    return {row["cause_id"]: {"points": row["points"], "donors": row["donors"]} for row in rows}


def partners(business) -> list[dict]:
    """Every business we consent to or that consents to us, with the state of the network."""
    ids = set(Partnership.objects.filter(business=business).values_list("partner_id", flat=True))
    ids |= set(Partnership.objects.filter(partner=business).values_list("business_id", flat=True))
    found = []
    for partner in Business.objects.filter(pk__in=ids).order_by("slug"):
        state = partnership_state(business, partner)
        if state != "none":
            found.append({"partner": partner.slug, "name": partner.name, "state": state})
    return found


def partner_member(business, partner_slug: str, mobile: str) -> dict:
    """Is this customer a member of our partner, and at which tier? Only while both sides consent; the
    partner's balances and history are never read."""
    partner = partner_business(business, partner_slug)
    if partnership_state(business, partner) != "active":
        raise Forbidden("no_partnership", partner=partner.slug)
    found = Member.objects.filter(business=partner, mobile=normalize_mobile(mobile, partner.phone_region),
                                  status=Member.Status.ACTIVE).only("tier", "joined_at").first()
    return {"partner": partner.slug, "member": found is not None, "tier": found.tier or None if found else None,
            "member_since": found.joined_at.date().isoformat() if found else None}


def partnership_state(business, partner) -> str:
    """active (both consent), offered (we do), invited (they do), or none."""
    mine = Partnership.objects.filter(business=business, partner=partner, ended_at__isnull=True).exists()
    theirs = Partnership.objects.filter(business=partner, partner=business, ended_at__isnull=True).exists()
    return {(True, True): "active", (True, False): "offered", (False, True): "invited"}.get((mine, theirs), "none")


def partner_business(business, slug: str):
    partner = Business.objects.filter(slug=str(slug)).exclude(pk=business.pk).first()
    if partner is None:
        raise NotFound("business_not_found", slug=slug)
    return partner
