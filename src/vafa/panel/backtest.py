"""The backtest: the last N days of real purchases replayed under two program versions (the active one and a
draft) with the pure engine (vafa.program.engine.evaluate), nothing written. Snapshots are built the way the
purchase path builds them (purchases.selectors.member_snapshot), but in memory: each member's counts before
the window come from one grouped query, then grow as the replay walks the member's purchases in time order; cap
period totals and issued reward keys are those the replay itself produced.

Every snapshot part depends on the member alone, so the replay walks the purchases member by member (then in
time order) and keeps nothing of a member once past them: a chunk (`advance`) is a range of member ids, read
with two queries (the purchases, their lines) plus the members' tier and plan and, only when a version reads
them (`snapshot_needs`), their counts. A chunk's members are split among worker processes (fork), each with
its own database connection, and their partial figures added up: sums, and the most affected members as the
top of the union of each part's top. The screen polls one chunk at a time (HTMX) to move the progress bar;
the state between chunks is a small picklable object kept in the cache."""

from __future__ import annotations

import datetime as dt
import heapq
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Count, Max, Sum
from django.utils import timezone

from vafa.members.models import Member
from vafa.program.document import ProgramDocument, Rate
from vafa.program.engine import (
    Activity,
    Context,
    Line,
    MemberSnapshot,
    cap_period_start,
    capped_rules,
    current_rate,
    evaluate,
    qualified_tier,
    snapshot_needs,
)
from vafa.purchases.models import Purchase, PurchaseLine, Visit
from vafa.tenancy.models import Branch

CHUNK = 50_000  # members a poll replays (about as many purchases in 90 days): the progress bar moves once a chunk
WORKERS = min(2, os.cpu_count() or 1)  # processes a chunk is split among
MOST_AFFECTED = 10
CREDITS = ("points", "coins", "wallet", "gift_credit")


@dataclass
class Side:
    """What one version issues over the replayed members; the sides of disjoint members add up."""

    issued: Counter = field(default_factory=Counter)  # currency → amount earned or cashed back
    rewards: int = 0
    purchases_earning: int = 0
    cost: int = 0  # money the issued amounts stand for (`cost`)
    tiers: Counter = field(default_factory=Counter)  # tier code → members in it at the window's end (`tier_mix`)

    def add(self, other: Side) -> None:
        self.issued.update(other.issued)
        self.tiers.update(other.tiers)
        self.rewards += other.rewards
        self.purchases_earning += other.purchases_earning
        self.cost += other.cost


def most_affected(rows) -> list[tuple[int, int, int]]:
    """The members whose cost changes most (member id, active cost, draft cost), ties by id; the top of a union
    is the top of its parts' tops, so partial results merge exactly."""
    return heapq.nsmallest(MOST_AFFECTED, rows, key=lambda row: (-abs(row[2] - row[1]), row[0]))


@dataclass
class Part:
    """What replaying one range of members gives."""

    purchases: int = 0
    active: Side = field(default_factory=Side)
    draft: Side = field(default_factory=Side)
    affected: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class Backtest:
    business_id: int
    start: dt.datetime
    end: dt.datetime
    total: int  # purchases in the window
    last_member: int  # the business's highest member id when the backtest started
    done: int = 0
    cursor: int = 0  # the last member id replayed: members are replayed whole, in id order
    active: Side = field(default_factory=Side)
    draft: Side = field(default_factory=Side)
    affected: list[tuple[int, int, int]] = field(default_factory=list)
    finished: bool = False

    @property
    def percent(self) -> int:
        return 100 if self.finished or not self.total else min(99, 100 * self.done // self.total)

    def add(self, part: Part) -> None:
        self.done += part.purchases
        self.active.add(part.active)
        self.draft.add(part.draft)
        self.affected = most_affected(self.affected + part.affected)


def window(business, days: int, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    end = now or timezone.now()
    return end - dt.timedelta(days=days), end


def _purchases(business_id: int, start: dt.datetime, end: dt.datetime):
    return Purchase.objects.filter(business_id=business_id, occurred_at__gte=start, occurred_at__lt=end,
                                   status__in=Purchase.COUNTED)


def start(business, days: int, now: dt.datetime | None = None) -> Backtest:
    first, last = window(business, days, now)
    last_member = Member.objects.filter(business=business).aggregate(n=Max("pk"))["n"] or 0
    return Backtest(business.pk, first, last, _purchases(business.pk, first, last).count(), last_member)


def cost(rate: Rate | None, currency: str, amount: int) -> int:
    """Money an amount stands for: points and coins at the loyalty table's rate of the day, credit at face."""
    if currency in ("wallet", "gift_credit"):
        return amount
    return amount * rate.value // rate.points if rate else 0


class _Version:
    """One version's document, what its snapshots need, and its running figures over a range of members."""

    def __init__(self, document: ProgramDocument):
        self.document = document
        self.capped = capped_rules(document)
        self.counts, self.rewards = snapshot_needs(document)
        self.side = Side()

    def begin_member(self) -> None:
        self.period_totals: Counter = Counter()  # (capped rule, period start) → issued so far
        self.reward_keys: set[str] = set()
        self.member_cost = 0

    def snapshot(self, tier: str | None, plan: str | None, count: int, visits: int, at: dt.datetime,
                 ctx: Context) -> MemberSnapshot:
        totals = {}
        for rule_id, period in self.capped.items():
            period_start = cap_period_start(period, at, ctx)
            totals[rule_id] = sum(amount for (rule, since), amount in self.period_totals.items()
                                  if rule == rule_id and (period_start is None or since >= period_start))
        return MemberSnapshot(tier=tier, purchase_count=count, visit_count=visits, period_totals=totals,
                              issued_rewards=frozenset(self.reward_keys) if self.rewards else frozenset(), plan=plan)

    def record(self, activity: Activity, snapshot: MemberSnapshot, ctx: Context, rate: Rate | None) -> None:
        """Evaluates the purchase and adds what it issues, valued at `rate` (the active loyalty table's)."""
        earned = False
        for effect in evaluate(self.document, snapshot, activity, ctx):
            if effect.kind in ("earn", "cashback") and effect.currency:
                self.side.issued[effect.currency] += effect.amount
                self.member_cost += cost(rate, effect.currency, effect.amount)
                earned = earned or effect.amount > 0
                if effect.rule_id in self.capped:
                    since = cap_period_start(self.capped[effect.rule_id], activity.occurred_at, ctx) \
                        or activity.occurred_at
                    self.period_totals[(effect.rule_id, since)] += effect.amount
            elif effect.kind == "reward" and effect.reward_key:
                self.side.rewards += 1
                self.reward_keys.add(effect.reward_key)
        self.side.purchases_earning += earned


# A purchase's columns the replay reads: plain rows, not model instances.
_COLUMNS = ("pk", "occurred_at", "member_id", "branch_id", "channel", "total", "discount", "points_value",
            "wallet_redeemed", "gift_credit_redeemed", "gift_card_redeemed", "units", "other_amount")


def replay(business_id: int, after: int, upto: int, first: dt.datetime, last: dt.datetime,
           active: ProgramDocument, draft: ProgramDocument, ctx: Context) -> Part:
    """Replays the window's purchases of the members with ids in (after, upto], and counts them per tier."""
    # Both bounds, always: with one, SQLite walks the whole window by time and sorts it.
    members = Member.objects.filter(business_id=business_id, pk__gt=after, pk__lte=upto)
    purchases = _purchases(business_id, first, last).filter(member_id__gt=after, member_id__lte=upto)
    versions = (_Version(active), _Version(draft))
    counts = any(version.counts for version in versions)
    earlier: dict[int, int] = {}
    visits: dict[int, int] = {}
    if counts:  # counted purchases before the window, and visits, for nth / first-purchase / stamp rules
        earlier = dict(Purchase.objects.filter(business_id=business_id, occurred_at__lt=first,
                                               status__in=Purchase.COUNTED, member_id__in=purchases.values("member_id"))
                       .values("member_id").annotate(n=Count("id")).values_list("member_id", "n"))
        visits = dict(Visit.objects.filter(business_id=business_id, member_id__in=purchases.values("member_id"))
                      .values("member_id").annotate(n=Count("id")).values_list("member_id", "n"))
    standing = {pk: (tier or None, plan, until) for pk, tier, plan, until
                in members.filter(pk__in=purchases.values("member_id"))
                .values_list("pk", "tier", "plan", "plan_expires_at")}
    branches = dict(Branch.objects.filter(business_id=business_id).values_list("id", "code"))
    lines: dict[int, list[Line]] = {}
    for purchase_id, sku, category, quantity, amount in (
            PurchaseLine.objects.filter(business_id=business_id, purchase__in=purchases.values("pk"))
            .order_by("purchase_id", "position").values_list("purchase_id", "sku", "category", "quantity", "amount")):
        lines.setdefault(purchase_id, []).append(Line(sku, category, quantity, amount))
    zone = ZoneInfo(ctx.timezone)
    rates: dict[dt.date, Rate | None] = {}  # both versions are valued at the active loyalty table of the day

    part = Part()
    affected = []
    rows = purchases.order_by("member_id", "occurred_at", "pk").values_list(*_COLUMNS)
    for member_id, own_rows in groupby(rows.iterator(chunk_size=10_000), key=itemgetter(2)):
        tier, plan, plan_until = standing[member_id]
        count, seen = earlier.get(member_id, 0), visits.get(member_id, 0)
        for version in versions:
            version.begin_member()
        for (pk, occurred_at, _, branch_id, channel, total, discount, points_value, wallet, gift_credit,
             gift_card, units, other_amount) in own_rows:
            own = tuple(lines.get(pk, ()))
            if other_amount:
                own += (Line(quantity=0, amount=other_amount, other=True),)
            activity = Activity("purchase", occurred_at, branch=branches[branch_id], channel=channel or None,
                                total=total, discount=discount,
                                credit_paid=points_value + wallet + gift_credit + gift_card, units=units or {},
                                lines=own)
            held = plan if plan and plan_until is not None and occurred_at < plan_until else None
            day = occurred_at.astimezone(zone).date()
            if day not in rates:
                rates[day] = current_rate(active, day)
            for version in versions:
                version.record(activity, version.snapshot(tier, held, count, seen, occurred_at, ctx), ctx, rates[day])
            count += 1
            part.purchases += 1
        if versions[0].member_cost != versions[1].member_cost:
            affected.append((member_id, versions[0].member_cost, versions[1].member_cost))
        for version in versions:
            version.side.cost += version.member_cost
    part.active, part.draft = versions[0].side, versions[1].side
    part.affected = most_affected(affected)
    mixes: list[tuple] = []  # (tiers, mix): a draft often keeps the active version's tiers
    for version in versions:
        tiers = version.document.tiers
        if tiers and tiers.basis != "points":  # a points basis keeps today's tiers: `compare` counts them
            mix = next((mix for same, mix in mixes if same == tiers), None)
            if mix is None:
                mix = tier_mix(version.document, business_id, after, upto, last)
                mixes.append((tiers, mix))
            version.side.tiers.update(mix)
    return part


def _replay_in_child(*args) -> Part:
    try:
        return replay(*args)
    finally:
        connections.close_all()  # the child's own connection, opened by its first query


def _member_after(state: Backtest, after: int, skip: int) -> int | None:
    """The business's member `skip` places past member id `after`, None when there are fewer."""
    return (Member.objects.filter(business_id=state.business_id, pk__gt=after, pk__lte=state.last_member)
            .order_by("pk").values_list("pk", flat=True)[skip:skip + 1].first())


def advance(state: Backtest, business, active: ProgramDocument, draft: ProgramDocument, ctx: Context,
            chunk: int = CHUNK, workers: int = WORKERS) -> Backtest:
    """Replays the next `chunk` members' purchases under both versions, split among `workers` processes; marks
    the state finished after the last member."""
    ranges: list[tuple[int, int]] = []
    after, step = state.cursor, max(1, -(-chunk // workers))
    while not state.finished and len(ranges) < workers:
        upto = _member_after(state, after, step - 1)
        if upto is None:
            upto, state.finished = state.last_member, True
        ranges.append((after, upto))
        after = upto
    jobs = [(state.business_id, low, high, state.start, state.end, active, draft, ctx) for low, high in ranges]
    # Never inside a transaction: closing its connection before the fork would end it (and a child could not
    # see its uncommitted rows).
    if len(jobs) > 1 and not any(connection.in_atomic_block for connection in connections.all()):
        connections.close_all()  # no connection may be shared with the children; each opens its own
        with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
            parts = pool.starmap(_replay_in_child, jobs)
    else:
        parts = [replay(*job) for job in jobs]
    for part in parts:
        state.add(part)
    state.cursor = after
    return state


def tier_mix(document: ProgramDocument, business_id: int, after: int, upto: int, end: dt.datetime) -> Counter:
    """Members (ids in (after, upto]) per tier the version would give at the end of the window, on its spend or
    visit basis over its tier window: one grouped query."""
    assert document.tiers is not None
    since = end - dt.timedelta(days=document.tiers.window_days)
    counted = Purchase.objects.filter(business_id=business_id, member_id__gt=after, member_id__lte=upto,
                                      occurred_at__gt=since, occurred_at__lte=end,
                                      status__in=Purchase.COUNTED).values("member_id")
    if document.tiers.basis == "spend":
        metrics = counted.annotate(n=Sum("spend")).values_list("n", flat=True)
    else:
        metrics = counted.annotate(n=Count("id")).values_list("n", flat=True)
    mix: Counter = Counter()
    for metric in metrics:
        level = qualified_tier(document, metric or 0)
        if level:
            mix[level.code] += 1
    return mix


def _tiers(state: Backtest, side: Side, document: ProgramDocument) -> Counter:
    """Members per tier for a version: the replay's count, or today's tiers for a points basis (points depend
    on the whole history under that version: the current tier is kept)."""
    if not document.tiers:
        return Counter()
    if document.tiers.basis == "points":
        return Counter(Member.objects.filter(business_id=state.business_id).exclude(tier="")
                       .values_list("tier", flat=True))
    return side.tiers


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
    tiers_active, tiers_draft = _tiers(state, state.active, active), _tiers(state, state.draft, draft)
    levels = [level.code for document in (active, draft) if document.tiers for level in document.tiers.levels]
    tiers = [(code, tiers_active[code], tiers_draft[code]) for code in dict.fromkeys([*levels, *tiers_active])
             if tiers_active[code] or tiers_draft[code]]
    return Comparison(currencies, (state.active.cost, state.draft.cost), (state.active.rewards, state.draft.rewards),
                      tiers, state.affected)


def run(business, active: ProgramDocument, draft: ProgramDocument, ctx: Context, days: int = 90,
        now: dt.datetime | None = None) -> tuple[Backtest, Comparison]:
    """The whole backtest in one call (tests, the bench)."""
    state = start(business, days, now)
    while not state.finished:
        advance(state, business, active, draft, ctx)
    return state, compare(state, business, active, draft)
