"""What the till shows: the member panel, today at a branch, the offline cache (recent members and the program's
plain earning rules, for an estimate when the server cannot be reached)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, Sum
from django.utils import timezone

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances, expiring_soon
from vafa.members.models import Member
from vafa.members.selectors import find_member
from vafa.messaging.models import OptOut, Provider
from vafa.messaging.selectors import settings_of
from vafa.program.document import localize
from vafa.program.engine import tier_progress
from vafa.program.selectors import active_program
from vafa.purchases.models import Purchase
from vafa.purchases.selectors import counted_purchases, member_rewards, tier_metric
from vafa.till.models import SyncProblem
from vafa.vouchers.models import VoucherDefinition

RECENT_MEMBERS = 300  # the offline lookup cache: the branch's most recent buyers


def find_by_any(business, text: str) -> Member:
    """One input for everything a cashier may type or a reader may send: a mobile in any spelling and digits,
    a card number, a member code. A card number and a mobile can both be all digits: a mobile is tried first
    (an Iranian mobile is recognisable), then a card, then a code."""
    text = to_ascii_digits(text or "").strip().replace(" ", "").replace("-", "")
    if not text:
        raise InvalidInput("q", "required")
    for kind in ("phone", "card", "code"):
        if kind == "phone" and not text.lstrip("+").isdigit():
            continue
        try:
            return find_member(business, **{kind: text})
        except NotFound:
            continue
    raise NotFound("member_not_found")


def _stamp_cards(document, member) -> list[dict]:
    """Progress on each stamp card of the program: 7 of 10."""
    cards = []
    for rule in document.rules:
        if rule.kind != "stamp":
            continue
        count = (counted_purchases(member).count() if rule.counts == "purchase"
                 else member.visits.count())
        cards.append({"name": rule.reward.name if hasattr(rule.reward, "name") else rule.id,
                      "have": count % rule.every, "every": rule.every})
    return cards


def _birthday_this_week(member, today: dt.date) -> bool:
    if member.birth_date is None:
        return False
    for offset in range(7):
        day = today + dt.timedelta(days=offset)
        if (day.month, day.day) == (member.birth_date.month, member.birth_date.day):
            return True
    return False


def usable_offers(business, member, branch, today: dt.date) -> list[VoucherDefinition]:
    """The business's active offers this member may use at this branch today (their tier, the dates)."""
    offers = (VoucherDefinition.objects.filter(business=business, active=True)
              .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today))
              .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today)).order_by("ends_on", "id")[:50])
    return [o for o in offers if (not o.branches or branch.code in o.branches)
            and (not o.tiers or member.tier in o.tiers)][:8]


def member_panel(business, member, branch, language: str) -> dict:
    """Everything the member panel shows. The tier's perks are the business's guidance to staff for this
    member's group (seed 002), in the operator's language."""
    now = timezone.now()
    progress, stamps, next_tier, perks = None, [], "", []
    try:
        _version, document = active_program(business)
        if document.tiers:
            progress = tier_progress(document, member.tier, tier_metric(member, document, now))
            next_tier = localize(progress.next.name, language) if progress.next else ""
            perks = [localize(p, language) for p in (progress.current.perks if progress.current else [])]
        stamps = _stamp_cards(document, member)
    except NotFound:  # no active program yet
        pass
    rewards = member_rewards(member, "available", now)[:20]
    today = now.astimezone(ZoneInfo(business.timezone)).date()
    return {"balances": balances(member, now), "progress": progress, "next_tier": next_tier, "perks": perks,
            "stamps": stamps, "rewards": rewards,
            "offers": usable_offers(business, member, branch, today), "expiring": expiring_soon(member, 30, now),
            "birthday": _birthday_this_week(member, today), "blocked": member.status == Member.Status.BLOCKED}


def sms_receipt_goes(business, member, result: dict) -> bool:
    """Whether the purchase's SMS receipt is on its way: the messaging app turns the purchase's outbox events
    (earned, spent, code used) into one SMS, when the business sends SMS and the member has not opted out of
    everything. The till only tells the cashier; it sends nothing itself."""
    conf = settings_of(business)
    earned = any(e.get("kind") != "discount" and e.get("amount") for e in result.get("effects", []))
    spent = any(result.get(k) for k in ("points_redeemed", "wallet_redeemed", "gift_credit_redeemed"))
    return (conf.sms_provider != Provider.NONE and bool(member.mobile) and (earned or spent)
            and not OptOut.objects.filter(business=business, member=member, everything=True).exists())


def recent_purchases(business, member, branch_ids) -> list[Purchase]:
    qs = Purchase.objects.filter(business=business, member=member).select_related("branch").order_by("-occurred_at", "-id")
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    return list(qs[:10])


def day_start(business, now: dt.datetime | None = None) -> dt.datetime:
    local = (now or timezone.now()).astimezone(ZoneInfo(business.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def today_at_branch(business, branch) -> dict:
    """The F57 sales report: today's purchases at this branch, their amount, points issued and redeemed, the
    members signed up at this branch's till, and the same by cashier."""
    start = day_start(business)
    purchases = Purchase.objects.filter(business=business, branch=branch, occurred_at__gte=start)
    points = Entry.objects.filter(business=business, purchase__in=purchases, currency="points")
    issued = dict(points.filter(kind=Entry.Kind.EARN).values_list("purchase__actor_label").annotate(n=Sum("amount")))
    by_cashier = [{"cashier": row["actor_label"] or "—", "count": row["count"], "amount": row["amount"] or 0,
                   "redeemed": row["redeemed"] or 0, "issued": issued.get(row["actor_label"], 0)}
                  for row in purchases.values("actor_label").annotate(count=Count("id"), amount=Sum("total"),
                                                                     redeemed=Sum("points_redeemed"))
                  .order_by("-amount")]
    return {"count": sum(r["count"] for r in by_cashier), "amount": sum(r["amount"] for r in by_cashier),
            "issued": sum(issued.values()), "redeemed": sum(r["redeemed"] for r in by_cashier),
            "new_members": Member.objects.filter(business=business, joined_at__gte=start,
                                                 join_source=f"till:{branch.code}").count(),
            "by_cashier": by_cashier, "start": start}


def sync_problems(business, branch_ids):
    qs = SyncProblem.objects.filter(business=business).select_related("branch", "member").order_by("-created_at")
    return qs.filter(branch_id__in=branch_ids) if branch_ids is not None else qs


def open_problems_at(business, branch):
    """What the till shows: this branch's problems the manager has not settled yet."""
    return sync_problems(business, None).filter(branch=branch, status=SyncProblem.Status.OPEN)


def offline_cache(business, branch) -> dict:
    """What the service worker keeps for this branch: its recent members (for a lookup without the server), the
    program's plain earning rules with the tiers' multipliers (for an estimate, never a promise) and the wallet
    credit a member may spend offline."""
    member_ids = list(Purchase.objects.filter(business=business, branch=branch).order_by("-occurred_at")
                      .values_list("member_id", flat=True)[:RECENT_MEMBERS * 3])
    seen = list(dict.fromkeys(member_ids))[:RECENT_MEMBERS]
    members = Member.objects.filter(business=business, pk__in=seen).prefetch_related("cards")
    rows = [{"id": m.pk, "name": m.full_name or m.code, "mobile": m.mobile, "code": m.code, "tier": m.tier,
             "blocked": m.status == Member.Status.BLOCKED,
             "cards": [c.number for c in m.cards.all() if c.status == "active"]} for m in members]
    earn, multipliers = [], {}
    try:
        _version, document = active_program(business)
        earn = [{"per": r.per, "award": r.award} for r in document.rules
                if r.kind == "earn" and r.on == "purchase" and r.basis == "amount" and r.currency == "points"]
        if document.tiers:
            multipliers = {level.code: float(level.multiplier) for level in document.tiers.levels}
    except NotFound:
        pass
    return {"branch": branch.code, "members": rows, "earn": earn, "multipliers": multipliers,
            "allowance": business.offline_spend_allowance, "at": timezone.now().isoformat()}
