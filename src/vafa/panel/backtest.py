"""The backtest: the last N days of real purchases replayed under two program versions (the active one and a
draft) with the pure engine (vafa.program.engine.evaluate), nothing written. Snapshots are built the way the
purchase path builds them (purchases.selectors.member_snapshot), but in memory: each member's counts before
the window come from one grouped query, then grow as the replay walks the purchases in time order; cap
period totals and issued reward keys are those the replay itself produced.

The replay runs in chunks (`advance`), each a keyset page of purchases, so the screen can show progress by
polling (HTMX) and a large history never holds one request for long; the state between chunks is a plain
picklable object kept in the cache."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.utils import timezone

from vafa.members.models import Member
from vafa.program.document import ProgramDocument
from vafa.program.engine import (
    Activity,
    Context,
    Effect,
    Line,
    MemberSnapshot,
    cap_period_start,
    capped_rules,
    current_rate,
    evaluate,
    qualified_tier,
)
from vafa.purchases.models import Purchase, PurchaseLine, Visit
from vafa.tenancy.models import Branch

CHUNK = 2000
MOST_AFFECTED = 10
CREDITS = ("points", "coins", "wallet", "gift_credit")


@dataclass
class Side:
    """What one version issues over the replay."""

    issued: Counter = field(default_factory=Counter)  # currency → amount earned or cashed back
    rewards: int = 0
    purchases_earning: int = 0
    # Per member: (capped rule, period start) → issued so far (the snapshot's period_totals).
    period_totals: dict = field(default_factory=lambda: defaultdict(Counter))
    reward_keys: dict = field(default_factory=lambda: defaultdict(set))
    by_member: Counter = field(default_factory=Counter)  # member id → cost issued to them


@dataclass
class Backtest:
    business_id: int
    start: dt.datetime
    end: dt.datetime
    total: int  # purchases in the window
    done: int = 0
    cursor: tuple[dt.datetime, int] | None = None
    counts: Counter = field(default_factory=Counter)  # member id → counted purchases so far
    active: Side = field(default_factory=Side)
    draft: Side = field(default_factory=Side)
    finished: bool = False

    @property
    def percent(self) -> int:
        return 100 if self.finished or not self.total else min(99, 100 * self.done // self.total)


def window(business, days: int, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    end = now or timezone.now()
    return end - dt.timedelta(days=days), end


def _purchases(business, start: dt.datetime, end: dt.datetime):
    return Purchase.objects.filter(business=business, occurred_at__gte=start, occurred_at__lt=end,
                                   status__in=Purchase.COUNTED)


def start(business, days: int, now: dt.datetime | None = None) -> Backtest:
    first, last = window(business, days, now)
    state = Backtest(business.pk, first, last, _purchases(business, first, last).count())
    # Every member's counted purchases before the window (one grouped query), for nth / stamp rules.
    earlier = (Purchase.objects.filter(business=business, occurred_at__lt=first, status__in=Purchase.COUNTED)
               .values("member_id").annotate(n=Count("id")).values_list("member_id", "n"))
    state.counts.update(dict(earlier))
    return state


def cost(document: ProgramDocument, currency: str, amount: int, day: dt.date) -> int:
    """Money an amount stands for: points and coins at the loyalty table's rate of the day, credit at face."""
    if currency in ("wallet", "gift_credit"):
        return amount
    rate = current_rate(document, day)
    return amount * rate.value // rate.points if rate else 0


def _snapshot(side: Side, document: ProgramDocument, member: Member, count: int, visits: int,
              at: dt.datetime, ctx: Context) -> MemberSnapshot:
    totals = {}
    for rule_id, period in capped_rules(document).items():
        period_start = cap_period_start(period, at, ctx)
        totals[rule_id] = sum(amount for (rule, since), amount in side.period_totals.get(member.pk, {}).items()
                              if rule == rule_id and (period_start is None or since >= period_start))
    return MemberSnapshot(tier=member.tier or None, purchase_count=count, visit_count=visits, period_totals=totals,
                          issued_rewards=frozenset(side.reward_keys.get(member.pk, ())), plan=member.plan_at(at))


def _record(side: Side, effects: list[Effect], member_id: int, at: dt.datetime, valuation: ProgramDocument,
            document: ProgramDocument, day: dt.date, ctx: Context) -> None:
    capped = capped_rules(document)
    earned = False
    for effect in effects:
        if effect.kind in ("earn", "cashback") and effect.currency:
            side.issued[effect.currency] += effect.amount
            side.by_member[member_id] += cost(valuation, effect.currency, effect.amount, day)
            earned = earned or effect.amount > 0
            if effect.rule_id in capped:
                since = cap_period_start(capped[effect.rule_id], at, ctx) or at
                side.period_totals[member_id][(effect.rule_id, since)] += effect.amount
        elif effect.kind == "reward" and effect.reward_key:
            side.rewards += 1
            side.reward_keys[member_id].add(effect.reward_key)
    side.purchases_earning += earned


# A purchase's columns the replay reads: plain rows, not model instances (at a million members the replay reads
# hundreds of thousands of purchases, and building a Purchase, a Member and a Branch per row was most of its time).
_COLUMNS = ("pk", "occurred_at", "member_id", "branch_id", "channel", "total", "discount", "points_value",
            "wallet_redeemed", "gift_credit_redeemed", "gift_card_redeemed", "units", "other_amount")


def advance(state: Backtest, business, active: ProgramDocument, draft: ProgramDocument, ctx: Context,
            chunk: int = CHUNK) -> Backtest:
    """Replays the next `chunk` purchases under both versions; marks the state finished after the last."""
    zone = ZoneInfo(ctx.timezone)
    qs = _purchases(business, state.start, state.end)
    if state.cursor:
        at, pk = state.cursor
        qs = qs.filter(occurred_at__gte=at).exclude(occurred_at=at, pk__lte=pk)
    page = list(qs.order_by("occurred_at", "pk").values_list(*_COLUMNS)[:chunk])
    member_ids = {row[2] for row in page}
    members = {m.pk: m for m in Member.objects.filter(business=business, pk__in=member_ids)
               .only("id", "tier", "plan", "plan_expires_at")}
    branches = dict(Branch.objects.filter(business=business).values_list("id", "code"))
    lines: dict[int, list[Line]] = defaultdict(list)
    for purchase_id, sku, category, quantity, amount in (
            PurchaseLine.objects.filter(business=business, purchase_id__in=[row[0] for row in page])
            .order_by("purchase_id", "position").values_list("purchase_id", "sku", "category", "quantity", "amount")):
        lines[purchase_id].append(Line(sku, category, quantity, amount))
    visits = dict(Visit.objects.filter(business=business, member_id__in=member_ids)
                  .values("member_id").annotate(n=Count("id")).values_list("member_id", "n"))
    for (pk, occurred_at, member_id, branch_id, channel, total, discount, points_value, wallet, gift_credit,
         gift_card, units, other_amount) in page:
        own = tuple(lines.get(pk, ()))
        if other_amount:
            own += (Line(quantity=0, amount=other_amount, other=True),)
        activity = Activity("purchase", occurred_at, branch=branches[branch_id], channel=channel or None,
                            total=total, discount=discount,
                            credit_paid=points_value + wallet + gift_credit + gift_card, units=units or {}, lines=own)
        count = state.counts[member_id]
        day = occurred_at.astimezone(zone).date()
        for side, document in ((state.active, active), (state.draft, draft)):
            snapshot = _snapshot(side, document, members[member_id], count, visits.get(member_id, 0), occurred_at,
                                 ctx)
            _record(side, evaluate(document, snapshot, activity, ctx), member_id, occurred_at, active, document,
                    day, ctx)
        state.counts[member_id] = count + 1
    state.done += len(page)
    if page:
        state.cursor = (page[-1][1], page[-1][0])
    state.finished = len(page) < chunk
    return state


def tier_mix(business, document: ProgramDocument, end: dt.datetime) -> dict[str, int]:
    """Members per tier the version would give at the end of the window, on a spend or visit basis (points
    depend on the whole history under that version: the current tier is kept)."""
    if not document.tiers:
        return {}
    since = end - dt.timedelta(days=document.tiers.window_days)
    counted = Purchase.objects.filter(business=business, occurred_at__gt=since, occurred_at__lte=end,
                                      status__in=Purchase.COUNTED).values("member_id")
    if document.tiers.basis == "spend":
        metrics = counted.annotate(n=Sum("spend")).values_list("n", flat=True)
    elif document.tiers.basis == "visits":
        metrics = counted.annotate(n=Count("id")).values_list("n", flat=True)
    else:
        return dict(Counter(Member.objects.filter(business=business).exclude(tier="").values_list("tier", flat=True)))
    mix: Counter = Counter()
    for metric in metrics:
        level = qualified_tier(document, metric or 0)
        if level:
            mix[level.code] += 1
    return dict(mix)


@dataclass(frozen=True)
class Comparison:
    currencies: list[tuple[str, int, int]]  # currency, active, draft
    cost: tuple[int, int]
    rewards: tuple[int, int]
    tiers: list[tuple[str, int, int]]
    most_affected: list[tuple[int, int, int]]  # member id, active cost, draft cost


def compare(state: Backtest, business, active: ProgramDocument, draft: ProgramDocument) -> Comparison:
    currencies = [(c, state.active.issued[c], state.draft.issued[c]) for c in CREDITS
                  if state.active.issued[c] or state.draft.issued[c]]
    members = set(state.active.by_member) | set(state.draft.by_member)
    deltas = sorted(members, key=lambda m: (-abs(state.draft.by_member[m] - state.active.by_member[m]), m))
    affected = [(m, state.active.by_member[m], state.draft.by_member[m]) for m in deltas[:MOST_AFFECTED]
                if state.draft.by_member[m] != state.active.by_member[m]]
    tiers_active, tiers_draft = tier_mix(business, active, state.end), tier_mix(business, draft, state.end)
    tiers = [(code, tiers_active.get(code, 0), tiers_draft.get(code, 0))
             for code in dict.fromkeys([*tiers_active, *tiers_draft])]
    return Comparison(currencies, (sum(state.active.by_member.values()), sum(state.draft.by_member.values())),
                      (state.active.rewards, state.draft.rewards), tiers, affected)


def run(business, active: ProgramDocument, draft: ProgramDocument, ctx: Context, days: int = 90,
        now: dt.datetime | None = None) -> tuple[Backtest, Comparison]:
    """The whole backtest in one call (tests, the bench)."""
    state = start(business, days, now)
    while not state.finished:
        advance(state, business, active, draft, ctx)
    return state, compare(state, business, active, draft)
