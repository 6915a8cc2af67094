"""The rules engine: pure functions, no database.

A snapshot of the member and one activity (purchase, visit or custom event) go in; a list of effects comes
out, each naming the rule that produced it and why, as a reason code and its parameters (vafa.core.reasons) that a
member reads in their own language ("why did I earn this?").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from vafa.core.arith import apportion, round_fraction
from vafa.core.calendar import month_start, year_start
from vafa.core.reasons import Formatter, Reason, fraction_param, render
from vafa.program import derived
from vafa.program.document import (
    WEEKDAYS,
    CashbackRule,
    Conditions,
    EarnRule,
    MultiplierRule,
    ProgramDocument,
    Rate,
    Reward,
    SequenceRule,
    StampRule,
    TierLevel,
    localize,
)

EffectKind = Literal["earn", "cashback", "reward", "revoke", "discount"]


@dataclass(frozen=True)
class Line:
    sku: str = ""
    category: str = ""
    quantity: int = 1
    amount: int = 0  # the line's gross amount: quantity × unit price
    other: bool = False  # the purchase's unitemised part (other_amount), not an item


@dataclass(frozen=True)
class Activity:
    kind: Literal["purchase", "visit", "event"]
    occurred_at: dt.datetime
    branch: str | None = None
    channel: str | None = None
    total: int = 0
    discount: int = 0  # discounts already granted on this purchase (tier, codes)
    credit_paid: int = 0  # the part paid with wallet, gift credit or points
    lines: tuple[Line, ...] = ()
    units: Mapping[str, int] = field(default_factory=dict)
    event: str | None = None


@dataclass(frozen=True)
class MemberSnapshot:
    tier: str | None = None
    purchase_count: int = 0  # counted purchases before this activity (cancelled and fully returned excluded)
    visit_count: int = 0
    period_totals: Mapping[str, int] = field(default_factory=dict)  # rule id → net amount in its cap period
    issued_rewards: frozenset[str] = frozenset()  # keys of rewards issued and not revoked
    plan: str | None = None  # the paid plan (VIP) the member holds at the moment of the activity


def snapshot_needs(document: ProgramDocument) -> tuple[bool, bool]:
    """Which costly parts of a MemberSnapshot this program reads: (the purchase and visit counts, the issued
    reward keys). A program without nth/first-purchase conditions, stamps or sequences needs neither. Worked out
    once per program version (program.derived)."""
    place = derived.of(document)
    needs = place.get("snapshot_needs")
    if needs is None:
        needs = place["snapshot_needs"] = _snapshot_needs(document)
    return needs


def _snapshot_needs(document: ProgramDocument) -> tuple[bool, bool]:
    rewards = any(isinstance(rule, StampRule | SequenceRule) for rule in document.rules)
    counts = rewards or any(rule.when.nth or rule.when.first_purchase for rule in document.rules)
    return counts, rewards


@dataclass(frozen=True)
class Context:
    timezone: str = "Asia/Tehran"
    language: str = "fa"
    currency: str = "IRT"
    calendar: str = "jalali"


@dataclass(frozen=True)
class Effect:
    kind: EffectKind
    rule_id: str
    amount: int = 0
    currency: str | None = None
    basis: int = 0
    why: Reason = Reason("note", {"text": ""})  # stored as the rows' reason_code and reason_params
    reward_key: str | None = None
    reward_code: str | None = None
    reward_name: str | None = None
    language: str = "fa"  # the asker's, for `reason` alone; what is stored is `why`

    @cached_property  # rendered once: the answer and the outbox's event both show it
    def reason(self) -> str:
        return render(self.why.code, self.why.params, self.language)


def _formatter(ctx: Context) -> Formatter:
    return Formatter({"money": ctx.currency}, "fa" if ctx.language == "fa" else "en", ctx.calendar)


def describe_amount(amount: int, currency: str, ctx: Context) -> str:
    """'20 points', or money formatted in the business currency for wallet and gift credit."""
    return _formatter(ctx).amount(amount, currency)


def _money(amount: int, ctx: Context) -> str:
    return _formatter(ctx).money(amount)


def _num(value: int | Fraction, ctx: Context) -> str:
    return _formatter(ctx).num(value)


def _t(ctx: Context, fa: str, en: str) -> str:
    return fa if ctx.language == "fa" else en


# --- conditions -------------------------------------------------------------------------------------


def _local(moment: dt.datetime, ctx: Context) -> dt.datetime:
    return moment.astimezone(ZoneInfo(ctx.timezone))


def _line_selected(cond: Conditions, line: Line) -> bool:
    if line.other and not cond.other_amount:
        return False
    if cond.categories and line.category not in cond.categories:
        return False
    if cond.skus and line.sku not in cond.skus:
        return False
    return True


def _line_conditions(cond: Conditions, document: ProgramDocument, activity: Activity) -> bool:
    """The conditions on what was bought: at least one selected line when categories/SKUs are named, and the
    minimum amount and quantity (both inclusive) over the selected lines."""
    if not (cond.selects_lines or cond.min_amount is not None or cond.min_quantity is not None):
        return True
    chosen = [bl for bl in _base_lines(document, activity) if _line_selected(cond, bl.line)]
    if cond.selects_lines and not chosen:
        return False
    if cond.min_amount is not None and sum(bl.base for bl in chosen) < cond.min_amount:
        return False
    if cond.min_quantity is not None and sum(bl.line.quantity for bl in chosen) < cond.min_quantity:
        return False
    return True


def _ordinal(activity: Activity, snapshot: MemberSnapshot) -> int:
    """This activity's number among the member's counted purchases (or visits), from 1."""
    return (snapshot.visit_count if activity.kind == "visit" else snapshot.purchase_count) + 1


def _gate(cond: Conditions, snapshot: MemberSnapshot, activity: Activity, ctx: Context) -> bool:
    """The conditions that concern the whole activity rather than its lines."""
    if cond.branches and activity.branch not in cond.branches:
        return False
    if cond.channels and activity.channel not in cond.channels:
        return False
    if cond.weekdays or cond.hours or cond.dates:  # the local time only when a condition reads it
        local = _local(activity.occurred_at, ctx)
        if cond.weekdays and WEEKDAYS[local.weekday()] not in cond.weekdays:
            return False
        if cond.hours and not any(window.contains(local.time()) for window in cond.hours):
            return False
        if cond.dates and not cond.dates.contains(local.date()):
            return False
    if cond.tiers and snapshot.tier not in cond.tiers:
        return False
    ordinal = _ordinal(activity, snapshot)
    if cond.first_purchase and ordinal != 1:
        return False
    if cond.nth and ordinal not in cond.nth:
        return False
    return True


# --- the earning base -------------------------------------------------------------------------------


def earning_base(document: ProgramDocument, activity: Activity) -> int:
    """Discounts always reduce the base; credit payments reduce it unless the program says they earn."""
    base = activity.total - activity.discount
    if not document.settings.earn_on_credit_payments:
        base -= activity.credit_paid
    return max(base, 0)


@dataclass(frozen=True)
class _BaseLine:
    line: Line
    base: int  # this line's share of the earning base


def _base_lines(document: ProgramDocument, activity: Activity) -> list[_BaseLine]:
    base = earning_base(document, activity)
    lines = activity.lines or (Line(amount=activity.total, quantity=1),)
    shares = apportion(base, [max(line.amount, 0) for line in lines])
    return [_BaseLine(line, share) for line, share in zip(lines, shares, strict=True)]


@dataclass(frozen=True)
class Promotion:
    """A standing order-wide percentage discount the member holds: the tier's or the paid plan's. It competes
    with order-wide percentage codes; only the best of them applies (vouchers.pricing.apply_codes)."""

    rule_id: str  # "tier:gold", "plan:vip"
    percent: Fraction
    label: str  # "5% Gold tier discount"


def member_promotions(document: ProgramDocument, tier: str | None, plan: str | None, ctx: Context) -> list[Promotion]:
    """The member's standing promotions: worked out once per program version, tier, plan and context
    (program.derived)."""
    place = derived.of(document).setdefault("promotions", {})
    key = (tier, plan, ctx)
    found = place.get(key)
    if found is None:
        found = place[key] = _member_promotions(document, tier, plan, ctx)
    return list(found)


def _member_promotions(document: ProgramDocument, tier: str | None, plan: str | None,
                       ctx: Context) -> tuple[Promotion, ...]:
    found = []
    level = document.tiers.level(tier) if document.tiers else None
    if level is not None and level.discount_percent:
        percent = _num(level.discount_percent, ctx)
        found.append(Promotion(f"tier:{level.code}", level.discount_percent, _t(
            ctx, f"{percent}٪ تخفیف سطح {localize(level.name, 'fa')}",
            f"{percent}% {localize(level.name, 'en')} tier discount")))
    held = document.plan(plan)
    if held is not None and held.discount_percent:
        percent = _num(held.discount_percent, ctx)
        found.append(Promotion(f"plan:{held.code}", held.discount_percent, _t(
            ctx, f"{percent}٪ تخفیف عضویت {localize(held.name, 'fa')}",
            f"{percent}% {localize(held.name, 'en')} membership discount")))
    return tuple(found)


@dataclass(frozen=True)
class ClubStanding:
    """Where a closed club's candidate stands against the entry threshold."""

    basis: str
    progress: int
    threshold: int
    reason: str

    @property
    def admitted(self) -> bool:
        return self.progress >= self.threshold


def club_standing(document: ProgramDocument, progress: int, ctx: Context) -> ClubStanding | None:
    """None for an open club (everyone is admitted at sign-up)."""
    entry = document.club.entry if document.club.kind == "closed" else None
    if entry is None:
        return None
    if entry.basis == "spend":
        need_fa, need_en = f"{_money(entry.threshold, ctx)} خرید", f"{_money(entry.threshold, ctx)} of purchases"
        have_fa, have_en = _money(progress, ctx), _money(progress, ctx)
    else:
        word_fa, word_en = ("خرید", "purchases") if entry.basis == "purchases" else ("مراجعه", "visits")
        need_fa, need_en = f"{_num(entry.threshold, ctx)} {word_fa}", f"{_num(entry.threshold, ctx)} {word_en}"
        have_fa, have_en = _num(progress, ctx), _num(progress, ctx)
    if progress >= entry.threshold:
        reason = _t(ctx, f"عضو باشگاه شد: {need_fa} رسید", f"admitted to the club: reached {need_en}")
    else:
        reason = _t(ctx, f"عضویت باشگاه پس از {need_fa}؛ تاکنون {have_fa}. تا آن زمان امتیازی تعلق نمی‌گیرد",
                    f"club membership after {need_en}; {have_en} so far. Nothing is earned until then")
    return ClubStanding(entry.basis, progress, entry.threshold, reason)


# --- evaluation -------------------------------------------------------------------------------------


def _active_rules(document: ProgramDocument, snapshot: MemberSnapshot, activity: Activity, ctx: Context) -> list:
    """Rules in document order up to and including the first matching rule marked `stop`."""
    active = []
    for rule in document.rules:
        active.append(rule)
        if rule.stop and _matches(rule, snapshot, activity, ctx, document):
            break
    return active


def _matches(rule, snapshot: MemberSnapshot, activity: Activity, ctx: Context, document: ProgramDocument) -> bool:
    if isinstance(rule, EarnRule) and not _applies_to_activity(rule, activity):
        return False
    if isinstance(rule, (StampRule, SequenceRule)) and rule.counts != activity.kind:
        return False
    return _gate(rule.when, snapshot, activity, ctx) and _line_conditions(rule.when, document, activity)


def _applies_to_activity(rule: EarnRule, activity: Activity) -> bool:
    if rule.on != activity.kind:
        return False
    return rule.on != "event" or rule.event == activity.event


_ONE = Fraction(1)


def _combine(factors: list[Fraction], mode: str) -> Fraction:
    if not factors:
        return _ONE
    if mode == "add":
        return 1 + sum((f - 1 for f in factors), Fraction(0))
    if mode == "best":
        return max(factors)
    product = Fraction(1)
    for f in factors:
        product *= f
    return product


@dataclass(frozen=True)
class _Multiplier:
    label: dict  # a name in both languages, or a reason ("multiplier.tier")
    factor: Fraction
    rule: MultiplierRule | None  # None for the tier's own multiplier


def _multipliers_for(rule: EarnRule, active: list, snapshot: MemberSnapshot, activity: Activity,
                     ctx: Context, document: ProgramDocument) -> list[_Multiplier]:
    found = []
    for other in active:
        if not isinstance(other, MultiplierRule) or other.currency != rule.currency:
            continue
        if other.applies_to and rule.id not in other.applies_to:
            continue
        if not _gate(other.when, snapshot, activity, ctx):
            continue
        if other.when.min_amount is not None or other.when.min_quantity is not None:
            # A multiplier's minimums are judged on the lines it selects, like any rule's.
            if not _line_conditions(other.when, document, activity):
                continue
        label = _names(other.name) or {"fa": other.id, "en": other.id}
        found.append(_Multiplier(label, other.factor, other))
    if rule.currency == "points":
        level = document.tiers.level(snapshot.tier) if document.tiers else None
        if level is not None and level.multiplier != 1:
            found.append(_Multiplier({"code": "multiplier.tier", "params": {"tier": _names(level.name)}},
                                     level.multiplier, None))
        plan = document.plan(snapshot.plan)
        if plan is not None and plan.multiplier != 1:
            found.append(_Multiplier({"code": "multiplier.plan", "params": {"plan": _names(plan.name)}},
                                     plan.multiplier, None))
    return found


def _measure(rule: EarnRule, active: list, snapshot: MemberSnapshot, activity: Activity, ctx: Context,
             document: ProgramDocument) -> tuple[int, Fraction | int, list[_Multiplier]] | None:
    """The plain basis a rule counts, the same basis weighted by its multipliers line by line (a whole number
    while no factor applies), and the multipliers that took part; None when the rule's own conditions fail."""
    multipliers = _multipliers_for(rule, active, snapshot, activity, ctx, document)
    mode = document.settings.multiplier_combination

    if rule.basis in ("amount", "quantity"):
        plain = 0
        weighted: Fraction | int = 0
        used: dict[int, _Multiplier] = {}
        for bl in _base_lines(document, activity):
            if not _line_selected(rule.when, bl.line):
                continue
            value = bl.base if rule.basis == "amount" else bl.line.quantity
            applying = [m for m in multipliers if m.rule is None or _line_selected(m.rule.when, bl.line)]
            for m in applying:
                used[id(m)] = m
            plain += value
            factor = _combine([m.factor for m in applying], mode)
            weighted += value if factor is _ONE else value * factor
        if not _line_conditions(rule.when, document, activity):
            return None
        return plain, weighted, list(used.values())

    if rule.basis == "unit":
        plain = int(activity.units.get(rule.unit or "", 0))
        if plain <= 0:
            return None
    else:  # visit, fixed: one of it
        plain = 1
    # Line-level multipliers cannot apply to a basis that has no lines.
    applying = [m for m in multipliers if m.rule is None or not m.rule.when.selects_lines]
    return plain, plain * _combine([m.factor for m in applying], mode), applying


def _cap(amount: int, rule_id: str, cap, snapshot: MemberSnapshot) -> int:
    if cap is None:
        return amount
    if cap.per_purchase is not None:
        amount = min(amount, cap.per_purchase)
    if cap.per_member is not None:
        room = cap.per_member - snapshot.period_totals.get(rule_id, 0)
        amount = min(amount, max(room, 0))
    return amount


def _names(label) -> dict:
    """A name in both languages, as a reason parameter; {} for none."""
    if isinstance(label, str):
        return {"fa": label, "en": label} if label else {}
    return {lang: localize(label, lang) for lang in ("fa", "en")} if any(label.values()) else {}


def _earn_reason(rule: EarnRule, plain: int, award: int, multipliers: list[_Multiplier], capped: bool,
                 ctx: Context) -> Reason:
    params: dict = {"name": _names(rule.name), "amount": award, "currency": rule.currency, "award": rule.award,
                    "money": ctx.currency}
    if rule.basis in ("amount", "quantity", "unit"):
        params |= {"per": rule.per, "basis": plain}
    if rule.basis == "unit":
        params["unit"] = rule.unit
    if rule.basis not in ("amount", "quantity", "unit", "visit"):
        params["event"] = rule.event
    if multipliers:
        params["multipliers"] = [{"factor": fraction_param(m.factor), "label": m.label} for m in multipliers]
    if capped:
        params["capped"] = True
    code = f"earn.{rule.basis}" if rule.basis in ("amount", "quantity", "unit", "visit") else "earn.event"
    return Reason(code, params)


def _evaluate_earn(rule: EarnRule, active: list, snapshot: MemberSnapshot, activity: Activity, ctx: Context,
                   document: ProgramDocument) -> Effect | None:
    measured = _measure(rule, active, snapshot, activity, ctx, document)
    if measured is None:
        return None
    plain, weighted, multipliers = measured
    if rule.proportional:
        raw = round_fraction(Fraction(weighted * rule.award, rule.per), rule.rounding)
    else:
        # Whole steps of `per` count, then multipliers scale the award: 250,000 at 10 per 100,000 is 2
        # steps, 20 points; ×2 makes it 40. Steps are taken on the plain basis so a multiplier never turns
        # an incomplete step into a whole one.
        steps = round_fraction(Fraction(plain, rule.per), rule.rounding)
        if weighted == plain:  # the factors come to 1 (none, most often): whole numbers only
            raw = steps * rule.award
        else:
            raw = round_fraction(steps * rule.award * Fraction(weighted, plain), "floor")
    award = _cap(raw, rule.id, rule.cap, snapshot)
    if award <= 0:
        return None
    reason = _earn_reason(rule, plain, award, multipliers, award < raw, ctx)
    return Effect("earn", rule.id, award, rule.currency, plain, reason, language=ctx.language)


def _evaluate_cashback(rule: CashbackRule, snapshot: MemberSnapshot, activity: Activity, ctx: Context,
                       document: ProgramDocument) -> Effect | None:
    if not _line_conditions(rule.when, document, activity):
        return None
    basis = sum(bl.base for bl in _base_lines(document, activity) if _line_selected(rule.when, bl.line))
    raw = round_fraction(basis * rule.percent / 100, rule.rounding)
    amount = _cap(raw, rule.id, rule.cap, snapshot)
    if amount <= 0:
        return None
    reason = Reason("earn.cashback", {"name": _names(rule.name), "percent": fraction_param(rule.percent),
                                      "basis": basis, "money": ctx.currency})
    return Effect("cashback", rule.id, amount, rule.currency, basis, reason, language=ctx.language)


def evaluate(document: ProgramDocument, snapshot: MemberSnapshot, activity: Activity, ctx: Context) -> list[Effect]:
    """Everything one activity earns: points, coins and cashback effects, then rewards it issues."""
    active = _active_rules(document, snapshot, activity, ctx)
    effects: list[Effect] = []
    for rule in active:
        if isinstance(rule, EarnRule):
            if _applies_to_activity(rule, activity) and _gate(rule.when, snapshot, activity, ctx):
                effect = _evaluate_earn(rule, active, snapshot, activity, ctx, document)
                if effect:
                    effects.append(effect)
        elif isinstance(rule, CashbackRule):
            if activity.kind == "purchase" and _gate(rule.when, snapshot, activity, ctx):
                effect = _evaluate_cashback(rule, snapshot, activity, ctx, document)
                if effect:
                    effects.append(effect)
    purchases, visits = _counts_after(snapshot, activity)
    for rule in active:
        if _reward_rule_applies(rule, snapshot, activity, ctx, document):
            effect = _triggered_reward(rule, purchases, visits, snapshot.issued_rewards, ctx)
            if effect:
                effects.append(effect)
    return effects


def _counts_after(snapshot: MemberSnapshot, activity: Activity) -> tuple[int, int]:
    if activity.kind == "purchase":
        return snapshot.purchase_count + 1, snapshot.visit_count
    if activity.kind == "visit":
        return snapshot.purchase_count, snapshot.visit_count + 1
    return snapshot.purchase_count, snapshot.visit_count


def _reward_rule_applies(rule, snapshot: MemberSnapshot, activity: Activity, ctx: Context,
                         document: ProgramDocument) -> bool:
    return (isinstance(rule, (StampRule, SequenceRule)) and rule.counts == activity.kind
            and _gate(rule.when, snapshot, activity, ctx) and _line_conditions(rule.when, document, activity))


def _triggered_reward(rule: StampRule | SequenceRule, purchase_count: int, visit_count: int,
                      issued: frozenset[str], ctx: Context) -> Effect | None:
    """The reward this activity itself reaches: stamp k at the k×every-th counted activity, sequence step n at
    the n-th. Rewards of earlier positions are never caught up (a stamp card added to a long-standing member
    starts from their next multiple)."""
    count = purchase_count if rule.counts == "purchase" else visit_count
    owed = reward_keys(rule, purchase_count, visit_count)
    key = next((k for k, position in owed.items() if position == count), None)
    if key is None or key in issued:
        return None
    return _reward_effect(rule, key, count, ctx)


def reward_keys(rule: StampRule | SequenceRule, purchase_count: int, visit_count: int) -> dict[str, int]:
    """The rewards a rule owes at these counts, key → position: stamp k for every `every` counted, sequence
    step n for each of the first counted activities."""
    count = purchase_count if rule.counts == "purchase" else visit_count
    if isinstance(rule, StampRule):
        return {f"stamp:{rule.id}:{k}": k * rule.every for k in range(1, count // rule.every + 1)}
    return {f"seq:{rule.id}:{n}": n for n in range(1, min(count, len(rule.steps)) + 1)}


def reward_definition(document: ProgramDocument, rule_id: str, key: str) -> Reward | None:
    """What the reward issued under `key` by rule `rule_id` gives, as the program defines it (None when the
    rule is gone)."""
    rule = next((r for r in document.rules if r.id == rule_id and isinstance(r, (StampRule, SequenceRule))), None)
    return _reward_of(rule, key) if rule is not None else None


def _reward_of(rule: StampRule | SequenceRule, key: str) -> Reward:
    if isinstance(rule, StampRule):
        return rule.reward
    return rule.steps[int(key.rsplit(":", 1)[1]) - 1]


def reconcile_rewards(document: ProgramDocument, purchase_count: int, visit_count: int,
                      issued: frozenset[str], ctx: Context,
                      rules: Sequence | None = None) -> tuple[list[Effect], list[Effect]]:
    """Stamps and sequence positions are exact, returns included: compares the rewards owed at the current
    counts with those issued. Answers (owed but missing, issued but no longer owed). After a reversal only the
    second list is acted on (a cancelled counted purchase revokes); the next counted purchase re-issues a
    revoked position when it reaches it again."""
    candidates = rules if rules is not None else [r for r in document.rules if isinstance(r, (StampRule, SequenceRule))]
    issue: list[Effect] = []
    revoke: list[Effect] = []
    for rule in candidates:
        owed = reward_keys(rule, purchase_count, visit_count)
        for key, position in owed.items():
            if key not in issued:
                issue.append(_reward_effect(rule, key, position, ctx))
        prefix = f"{'stamp' if isinstance(rule, StampRule) else 'seq'}:{rule.id}:"
        for key in sorted(k for k in issued if k.startswith(prefix) and k not in owed):
            revoke.append(Effect("revoke", rule.id, 0, None, 0, Reason("reward.revoked"), key, language=ctx.language))
    return issue, revoke


def _reward_effect(rule: StampRule | SequenceRule, key: str, position: int, ctx: Context) -> Effect:
    reward = _reward_of(rule, key)
    label = localize(reward.name, ctx.language) or reward.code
    params = {"label": _names(reward.name) or {"fa": reward.code, "en": reward.code}, "counts": rule.counts,
              "position": position}
    if isinstance(rule, StampRule):
        reason = Reason("reward.stamp", params | {"every": rule.every})
    else:
        reason = Reason("reward.sequence", params)
    return Effect("reward", rule.id, 0, None, position, reason, key, reward.code, label, language=ctx.language)


# --- caps, tiers, the loyalty table -----------------------------------------------------------------


def cap_period_start(period: str, moment: dt.datetime, ctx: Context) -> dt.datetime | None:
    """Start of the cap period holding `moment`, in the business's timezone and calendar; None for 'ever'."""
    if period == "ever":
        return None
    day = _local(moment, ctx).date()
    if period == "day":
        start = day
    elif period == "week":
        # The Iranian week starts on Saturday; the Gregorian (ISO) week on Monday.
        offset = (day.weekday() - 5) % 7 if ctx.calendar == "jalali" else day.weekday()
        start = day - dt.timedelta(days=offset)
    elif period == "month":
        start = month_start(day, ctx.calendar)
    else:
        start = year_start(day, ctx.calendar)
    return dt.datetime.combine(start, dt.time(), tzinfo=ZoneInfo(ctx.timezone))


def capped_rules(document: ProgramDocument) -> dict[str, str]:
    """Rule id → cap period, for rules with a per-member cap (the snapshot must carry their totals)."""
    return {rule.id: rule.cap.period for rule in document.rules
            if isinstance(rule, (EarnRule, CashbackRule)) and rule.cap and rule.cap.per_member is not None}


def qualified_tier(document: ProgramDocument, metric: int) -> TierLevel | None:
    if not document.tiers:
        return None
    best = document.tiers.levels[0]
    for level in document.tiers.levels:
        if metric >= level.threshold:
            best = level
    return best


def tier_rank(document: ProgramDocument, code: str | None) -> int:
    if not document.tiers:
        return -1
    return next((i for i, level in enumerate(document.tiers.levels) if level.code == code), -1)


@dataclass(frozen=True)
class TierProgress:
    current: TierLevel | None
    next: TierLevel | None
    metric: int
    remaining: int  # how much more of the basis reaches the next tier; 0 at the top


def tier_progress(document: ProgramDocument, tier: str | None, metric: int) -> TierProgress:
    current = document.tiers.level(tier) if document.tiers else None
    if not document.tiers:
        return TierProgress(None, None, metric, 0)
    rank = tier_rank(document, tier)
    upper = document.tiers.levels[rank + 1] if rank + 1 < len(document.tiers.levels) else None
    return TierProgress(current, upper, metric, max(upper.threshold - metric, 0) if upper else 0)


def current_rate(document: ProgramDocument, day: dt.date) -> Rate | None:
    """The loyalty table's rate on a day: a dated rate (season) that covers it, else the undated default."""
    if not document.loyalty_table:
        return None
    rates = document.loyalty_table.rates
    for rate in rates:
        if rate.dated and (rate.start is None or rate.start <= day) and (rate.end is None or day <= rate.end):
            return rate
    return next((rate for rate in rates if not rate.dated), None)


def convert_points(rate: Rate, points: int) -> tuple[int, int]:
    """Points → money in whole steps only: (points used, value). 250 points at 100 → 5,000 use 200 for 10,000."""
    steps = points // rate.points
    return steps * rate.points, steps * rate.value
