"""Purchases, returns and cancellations (visits and custom events: purchases.activities): each use case one transaction.

A purchase: price it (tier discount), take the credit payments (points at the loyalty table's rate, wallet),
evaluate the program on the earning base, write the ledger, issue rewards, move the tier up if earned, and
put the notifications in the outbox. A replay (same receipt, same idempotency key) returns the first answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypedDict, cast
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.arith import apportion
from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from vafa.core.idempotency import fingerprint
from vafa.core.reasons import Reason, reason_fields
from vafa.core.rows import new, read_rows
from vafa.core.sql import WritePlan, insert_now, read_all
from vafa.core.usecase import run_use_case, write_last
from vafa.core.validation import check_amount
from vafa.ledger import services as ledger
from vafa.ledger.giftcards import pay_with_card, usable_card
from vafa.ledger.maths import RestrictedLot, plan_restricted
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances, gift_credit_lots
from vafa.members.locks import lock_member, lock_statement, member_of, read_statement
from vafa.members.models import Member, TierChange
from vafa.members.referrals import referee_rewards, reward_referral
from vafa.outbox.services import batched, emit, into_plan
from vafa.program import cache, derived
from vafa.program.document import ProgramDocument
from vafa.program.engine import (
    Activity,
    ClubStanding,
    Context,
    Effect,
    Line,
    convert_points,
    current_rate,
    earning_base,
    evaluate,
    member_promotions,
    qualified_tier,
    reward_definition,
    tier_rank,
)
from vafa.program.selectors import context_of
from vafa.purchases import counters
from vafa.purchases import sql as purchases_sql
from vafa.purchases.admission import admission, admit_if_qualified
from vafa.purchases.counters import Standing
from vafa.purchases.models import (
    IssuedReward,
    Purchase,
    RewardEffect,
)
from vafa.purchases.reversals import cancel_purchase, return_purchase  # noqa: F401  (the app's use cases, one import)
from vafa.purchases.selectors import member_snapshot, reward_json, reward_status, usable_now
from vafa.tenancy.models import Branch
from vafa.vouchers.pricing import Applied, Basket, BasketLine, VoucherTerms
from vafa.vouchers.services import (
    VoucherRejected,
    guards_code_lookups,
    normalize_code,
    price_codes_for_purchase,
    redeem_codes_for_purchase,
)


@dataclass(frozen=True)
class LineRequest:
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass
class Quote:
    """A purchase priced and evaluated, before anything is written."""

    total: int
    discount: int
    points_redeemed: int
    points_value: int
    wallet_redeemed: int
    earning_base: int
    payable: int
    effects: list[Effect] = field(default_factory=list)  # discount, earn, cashback, reward
    gift_credit_redeemed: int = 0
    gift_credit_plan: list[tuple[int, int]] = field(default_factory=list)  # (lot id, amount) within restrictions
    gift_card_redeemed: int = 0
    gift_card: object = None  # the GiftCard that pays gift_card_redeemed


# --- input ------------------------------------------------------------------------------------------


def clean_lines(raw_lines: list[dict] | None, errors: list[dict]) -> list[LineRequest]:
    lines = []
    for i, raw in enumerate(raw_lines or []):
        if not isinstance(raw, dict):
            errors.append({"field": f"lines.{i}", "message": "must_be_object"})
            continue
        quantity = raw.get("quantity", 1)
        unit_price = raw.get("unit_price")
        check_amount(f"lines.{i}.quantity", quantity, errors, allow_zero=False)
        check_amount(f"lines.{i}.unit_price", unit_price, errors)
        texts = {}
        for name, limit in (("sku", 64), ("name", 200), ("category", 64)):
            value = raw.get(name) or ""
            if not isinstance(value, str) or len(value) > limit:
                errors.append({"field": f"lines.{i}.{name}", "message": "bad_text"})
                value = ""
            texts[name] = value.strip()
        unknown = set(raw) - {"sku", "name", "category", "quantity", "unit_price"}
        errors.extend({"field": f"lines.{i}.{name}", "message": "unknown_field"} for name in sorted(unknown))
        if isinstance(quantity, int) and isinstance(unit_price, int) and not isinstance(unit_price, bool):
            lines.append(LineRequest(texts["sku"], texts["name"], texts["category"], quantity, unit_price))
    return lines


def _clean_units(units: dict | None, errors: list[dict]) -> dict[str, int]:
    clean = {}
    for name, value in (units or {}).items():
        check_amount(f"units.{name}", value, errors)
        if isinstance(value, int) and not isinstance(value, bool):
            clean[str(name)[:32]] = value
    return clean


def _moment(value: dt.datetime | None, name: str, errors: list[dict]) -> dt.datetime:
    if value is None:
        return timezone.now()
    if timezone.is_naive(value):
        errors.append({"field": name, "message": "needs_timezone_offset"})
        return timezone.now()
    if value > timezone.now() + dt.timedelta(minutes=10):
        errors.append({"field": name, "message": "in_the_future"})
    return value


def _check_items_add_up(lines: list[LineRequest], total: int, other_amount: int, lines_weigh_total: bool,
                        errors: list[dict]) -> None:
    """Items given must add up to the total, less the declared unitemised part; without items the whole total
    is unitemised, so other_amount has nothing to stand beside."""
    if errors or lines_weigh_total:
        return
    if not lines:
        if other_amount:
            errors.append({"field": "other_amount", "message": "other_amount_needs_items"})
        return
    items = sum(line.amount for line in lines)
    if items + other_amount != total:
        errors.append({"field": "total", "message": "total_is_not_items_plus_other",
                       "params": {"total": total, "items_total": items, "other_amount": other_amount}})


def _check_backdating(at: dt.datetime, max_days: int) -> None:
    if at < timezone.now() - dt.timedelta(days=max_days):
        raise InvalidInput(errors=[{"field": "occurred_at", "message": "too_far_back",
                                    "params": {"max_backdate_days": max_days}}])


def _clean_reward_ids(rewards: list | None, errors: list[dict]) -> list[int]:
    ids = []
    for i, value in enumerate(rewards or []):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append({"field": f"rewards.{i}", "message": "must_be_integer"})
        elif value in ids:
            errors.append({"field": f"rewards.{i}", "message": "duplicate_reward"})
        else:
            ids.append(value)
    return ids


# --- pricing and evaluation (reads only) --------------------------------------------------------------


def quote(document: ProgramDocument, ctx: Context, member: Member, *, branch_code: str, channel: str,
          total: int, at: dt.datetime, lines: list[LineRequest], units: dict[str, int], redeem_points: int,
          redeem_wallet: int, standing: Standing, redeem_gift_credit: int = 0,
          discount_effects: tuple[Effect, ...] = (), gift_card: dict | None = None, other_amount: int = 0,
          held: Callable[[str], int], gift_credit: list[RestrictedLot] | None = None) -> Quote:
    """Price a purchase and evaluate the program on it, writing nothing. The discounts (codes, rewards and
    standing promotions, already priced by the caller) come first, then the credit payments, which the member
    must be able to afford. The unitemised `other_amount` is a line of its own that rules may leave out.
    `standing`: the member's counters before this purchase (counters.standing).
    `held(currency)`: what the member can spend, from the balances loaded as of `at` (what is due by then
    counted in, as the spend's write will write it down). `gift_credit`: the gift-credit lots as of `at`, when
    the caller has read them (a dry run, without writing); else they are read once what is due is written down."""
    engine_lines = tuple(Line(line.sku, line.category, line.quantity, line.amount) for line in lines)
    if other_amount:
        engine_lines += (Line(quantity=0, amount=other_amount, other=True),)
        lines = [*lines, LineRequest("", "", "", 1, other_amount)]  # for gift credit: a part without a category
    snapshot = member_snapshot(member, document, at, standing)
    discount = sum(effect.amount for effect in discount_effects)
    due = total - discount

    points_used = points_value = 0
    if redeem_points:
        rate = current_rate(document, at.astimezone(_zone(ctx)).date())
        if rate is None or rate.value == 0:
            raise InvalidInput("redeem.points", "no_loyalty_table_rate")
        points_used, points_value = convert_points(rate, redeem_points)
        if points_used == 0:
            raise InvalidInput("redeem.points", "less_than_one_step")
        if points_value > due:
            raise InvalidInput("redeem.points", "more_than_amount_due")
        have = held("points")
        if points_used > have:
            raise InsufficientBalance("insufficient_balance", currency="points", needed=points_used, available=have)
    if redeem_wallet:
        if redeem_wallet > due - points_value:
            raise InvalidInput("redeem.wallet", "more_than_amount_due")
        have = held("wallet")
        if redeem_wallet > have:
            raise InsufficientBalance("insufficient_balance", currency="wallet", needed=redeem_wallet, available=have)
    gift_plan = _gift_credit_plan(member, branch_code, lines, due - points_value - redeem_wallet, redeem_gift_credit,
                                  at, gift_credit)
    card, card_amount = _gift_card_payment(member, gift_card, due - points_value - redeem_wallet - redeem_gift_credit,
                                           at)
    credit_paid = points_value + redeem_wallet + redeem_gift_credit + card_amount
    activity = Activity(
        "purchase", at, branch=branch_code, channel=channel or None, total=total, discount=discount,
        credit_paid=credit_paid, units=units,
        lines=engine_lines,
    )

    effects = list(discount_effects) + evaluate(document, snapshot, activity, ctx)
    return Quote(total, discount, points_used, points_value, redeem_wallet, earning_base(document, activity),
                 due - credit_paid, effects, redeem_gift_credit, gift_plan, card_amount, card)


def _gift_card_payment(member: Member, request: dict | None, due: int, at: dt.datetime):
    """A gift card pays last, up to what is still due and what the card holds."""
    if not request:
        return None, 0

    amount = request.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput("redeem.gift_card.amount", "must_be_positive")
    if amount > due:
        raise InvalidInput("redeem.gift_card.amount", "more_than_amount_due")
    card = usable_card(member.business, request.get("code") or "", at)
    if card.balance < amount:
        raise InsufficientBalance("insufficient_balance", currency="gift_card", needed=amount, available=card.balance)
    return card, amount


def _gift_credit_plan(member: Member, branch_code: str, lines: list[LineRequest], due: int,
                      wanted: int, at: dt.datetime, lots: list[RestrictedLot] | None) -> list[tuple[int, int]]:
    """Which gift credit grants pay `wanted`: those expiring first, each within its branches and categories."""
    if not wanted:
        return []
    if wanted > due:
        raise InvalidInput("redeem.gift_credit", "more_than_amount_due")
    shares = apportion(due, [line.amount for line in lines]) if lines else [due]
    basket = [(line.category, share) for line, share in zip(lines, shares, strict=True)] if lines else [("", due)]
    return plan_restricted(ledger.restricted_lots(member, at) if lots is None else lots, basket, branch_code, wanted)


def _zone(ctx: Context):
    return ZoneInfo(ctx.timezone)


def _effect_json(effect: Effect) -> dict:
    return {"kind": effect.kind, "rule_id": effect.rule_id, "currency": effect.currency, "amount": effect.amount,
            "reason": effect.reason, "reason_code": effect.why.code, "reason_params": dict(effect.why.params),
            "reward_code": effect.reward_code, "reward_name": effect.reward_name}


# --- writing effects ----------------------------------------------------------------------------------


def _apply_effects(member: Member, effects: list[Effect], document: ProgramDocument, version: int,
                   at: dt.datetime, actor: Actor, changes: counters.Changes, plan: WritePlan, *, purchase=None,
                   visit=None, event=None, pending: bool = False) -> None:
    """Earnings to the ledger (as pending lots within a purchase's return window), rewards issued, and every
    effect remembered for caps and reversals (and added to the `changes` of the counters): into the use case's
    write `plan`, but for the rewards issued (their ids go into the events), written at once."""
    source = f"visit:{visit.pk}" if visit else (f"event:{event.pk}" if event else "")
    remembered, credits = [], []
    for effect in effects:
        if effect.kind in ("earn", "cashback") and effect.amount > 0 and effect.currency:
            settings = document.settings.currency(effect.currency)
            credits.append(ledger.CreditLine(
                effect.currency, effect.amount, effect.why, Entry.Kind.EARN, rule_id=effect.rule_id,
                expires_at=at + dt.timedelta(days=settings.expiry_days) if settings.expiry_days else None,
                pending_until=at + dt.timedelta(days=settings.pending_days)
                if pending and settings.pending_days else None,
            ))
            emit(member.business_id, f"{effect.currency}.earned" if effect.currency == "points" else "credit.earned",
                 {"member_id": member.pk, "currency": effect.currency, "amount": effect.amount,
                  "purchase_id": purchase.pk if purchase else None, "reason": effect.reason})
        if effect.kind == "reward":
            issued = IssuedReward(
                business_id=member.business_id, member=member, rule_id=effect.rule_id, key=effect.reward_key,
                reward_code=effect.reward_code or "", name=effect.reward_name or "", reason=effect.why,
                purchase=purchase, visit=visit, issued_at=at, **_reward_holding(document, effect, at))
            insert_now(issued)
            emit(member.business_id, "reward.issued", {"member_id": member.pk, "reward_id": issued.pk,
                                                        "reward_code": effect.reward_code,
                                                        "key": effect.reward_key, "reason": effect.reason})
        if effect.kind in ("earn", "cashback", "discount"):
            remembered.append(_effect_row(member, effect.kind, effect.rule_id, effect.currency or "",
                                          effect.amount, effect.why, at, version, purchase=purchase, visit=visit,
                                          event=event))
            changes.effect(member.pk, at, effect.kind, effect.rule_id, effect.currency or "", effect.amount)
    ledger.credit_many(member, credits, at=at, actor=actor, purchase=purchase, source=source,
                       program_version=version, plan=plan)
    plan.insert(RewardEffect, remembered)  # one statement for all (none when empty)


def _effect_row(member: Member, kind: str, rule_id: str, currency: str, amount: int, reason: Reason,
                at: dt.datetime, version: int, *, purchase=None, visit=None, event=None) -> dict:
    """A RewardEffect row, as the write plan inserts it."""
    return {"business_id": member.business_id, "member_id": member.pk, "kind": kind, "rule_id": rule_id,
            "currency": currency, "amount": amount, "occurred_at": at, "program_version": version,
            "purchase_id": purchase.pk if purchase else None, "visit_id": visit.pk if visit else None,
            "event_id": event.pk if event else None, **reason_fields(reason)}


def tier_upgrade(member: Member, document: ProgramDocument, metric: int) -> tuple[str, int] | None:
    """The tier the rolling metric (with the activity being decided) takes the member up to, and that metric;
    None when they stay."""
    if not document.tiers or member.tier == document.tiers.levels[-1].code:
        return None  # no tiers, or already at the top
    level = qualified_tier(document, metric)
    if level and tier_rank(document, level.code) > tier_rank(document, member.tier):
        return level.code, metric
    return None


def upgrade_if_qualified(member: Member, document: ProgramDocument, at: dt.datetime, actor: Actor,
                         before: Standing, changes: counters.Changes, plan: WritePlan | None = None) -> str | None:
    """Tiers go up at once when the rolling metric reaches a higher threshold; they go down only at a review.
    The metric: the counters `before` the activity and what the activity's `changes` add (on its own day,
    inside the window that ends at it). The change into the use case's write `plan`, or written now."""
    metric = before.tier_metric + sum(changes.total(member.pk, name) for name in counters.tier_names(document))
    upgrade = tier_upgrade(member, document, metric)
    if upgrade is None:
        return None
    change_tier(member, upgrade[0], upgrade[1], "upgrade", at, actor, plan)
    return upgrade[0]


def change_tier(member: Member, to_tier: str, metric: int, reason: str, at: dt.datetime, actor: Actor,
                plan: WritePlan | None = None) -> None:
    """The member's tier history row and their new tier: into the use case's write `plan`, or written now."""
    now = plan is None
    plan = WritePlan() if plan is None else plan
    plan.insert(TierChange, [{"business_id": member.business_id, "member_id": member.pk, "from_tier": member.tier,
                              "to_tier": to_tier, "metric": metric, "reason": reason, "changed_at": at,
                              **actor.fields()}])
    plan.add(_SET_TIER, [to_tier, connection.ops.adapt_datetimefield_value(at), member.business_id, member.pk])
    emit(member.business_id, "tier.changed", {"member_id": member.pk, "from": member.tier, "to": to_tier,
                                              "metric": metric, "reason": reason})
    member.tier = to_tier
    member.tier_since = at
    if now:
        plan.write()


_SET_TIER = f"UPDATE {Member._meta.db_table} SET tier = %s, tier_since = %s WHERE business_id = %s AND id = %s"


# --- rewards the member holds ---------------------------------------------------------------------------

REWARD_REASONS: dict[str, tuple[str, str]] = {
    "used": ("این جایزه قبلاً استفاده شده است", "this reward has already been used"),
    "expired": ("اعتبار این جایزه تمام شده است", "this reward has expired"),
    "revoked": ("این جایزه لغو شده است", "this reward was revoked"),
    "wrong_branch": ("این جایزه در این شعبه پذیرفته نمی‌شود", "this reward is not accepted at this branch"),
    "needs_purchase": ("این جایزه تخفیف است و فقط روی یک خرید استفاده می‌شود",
                       "this reward is a discount: use it on a purchase"),
    "no_matching_items": ("کالای این جایزه در سبد نیست", "the item this reward gives is not in the basket"),
    "nothing_to_discount": ("چیزی برای تخفیف باقی نمانده است", "nothing is left to discount"),
    "not_combined": ("با تخفیف بهتری جمع نمی‌شود", "not combined: a better discount applies"),
}
PRICED_REWARDS = {"free_item": "free_item", "amount_off": "fixed", "percent_off": "percent"}  # gives → voucher kind


class RewardRefused(Conflict):
    """A reward the member holds cannot be used here and now; params: reward_id and reason."""

    code = "reward_not_usable"

    def describe(self, language: str) -> str:
        pair = REWARD_REASONS.get(str(self.params.get("reason")))
        return (pair[0] if language == "fa" else pair[1]) if pair else ""


def _reward_holding(document: ProgramDocument, effect: Effect, at: dt.datetime) -> dict:
    """What an issued reward gives, where and until when, copied from the program that issued it."""
    reward = reward_definition(document, effect.rule_id, effect.reward_key or "")
    if reward is None:
        return {}
    terms: dict[str, object] = {}
    if reward.gives == "free_item":
        terms = {"sku": reward.sku, "quantity": reward.quantity}
    elif reward.gives == "amount_off":
        terms = {"amount": reward.amount}
    elif reward.gives == "percent_off":
        terms = {"percent": str(reward.model_dump(mode="json")["percent"]), "max_discount": reward.max_discount}
    return {"gives": reward.gives, "terms": terms, "branches": list(reward.branches),
            "expires_at": at + dt.timedelta(days=reward.valid_days) if reward.valid_days else None}


def reward_terms(reward: IssuedReward):
    """A reward that takes something off a basket, as vouchers.pricing terms (None: a thing or free shipping,
    which the till hands over or ships)."""
    kind = PRICED_REWARDS.get(reward.gives)
    if kind is None:
        return None
    terms = reward.terms or {}
    return VoucherTerms(code=f"reward:{reward.pk}", kind=kind, amount=terms.get("amount", 0),
                        percent=Fraction(terms.get("percent") or 0), max_discount=terms.get("max_discount"),
                        free_sku=terms.get("sku", ""), free_quantity=terms.get("quantity", 1),
                        label=reward.name or reward.reward_code)


def _check_usable(reward: IssuedReward, branch_code: str | None, now: dt.datetime) -> None:
    status = reward_status(reward, now)
    if status != "available":
        raise RewardRefused("reward_not_usable", reward_id=reward.pk, reason=status)
    if reward.branches and branch_code not in reward.branches:
        raise RewardRefused("reward_not_usable", reward_id=reward.pk, reason="wrong_branch")


def _held_rewards(member: Member, reward_ids: list[int], branch_code: str, now: dt.datetime, *,
                  lock: bool = True) -> list[IssuedReward]:
    """The member's rewards asked for on a purchase, locked in id order (a dry run: read without a lock), each
    usable here and now. A hand-written read (core.rows): the ORM's compiling cost more than the read."""
    if not reward_ids:
        return []
    asked = sorted({i for i in reward_ids if 0 < i < 2**63})  # no row has an id outside a bigint's range
    where = f"t.business_id = %s AND t.member_id = %s AND t.id IN ({', '.join(['%s'] * len(asked))})"
    rows = {row.pk: row for row in read_rows(IssuedReward, where, [member.business_id, member.pk, *asked],
                                             order="t.id" if lock else "", lock=lock)} if asked else {}
    missing = [{"field": f"rewards.{i}", "message": "unknown_reward"}
               for i, reward_id in enumerate(reward_ids) if reward_id not in rows]
    if missing:
        raise InvalidInput(errors=missing)
    for reward_id in reward_ids:
        _check_usable(rows[reward_id], branch_code, now)
    return [rows[reward_id] for reward_id in reward_ids]


def _use_reward(reward: IssuedReward, at: dt.datetime, branch_code: str | None, purchase: Purchase | None) -> None:
    """Used once: a conditional UPDATE, so of two concurrent uses only one finds it still available."""
    taken = IssuedReward.objects.filter(usable_now(at), pk=reward.pk).update(
        status=IssuedReward.Status.USED, used_at=at, used_purchase=purchase, used_branch=branch_code or "")
    if not taken:
        raise RewardRefused("reward_not_usable", reward_id=reward.pk, reason="used")
    emit(reward.business_id, "reward.used", {"member_id": reward.member_id, "reward_id": reward.pk,
                                             "reward_code": reward.reward_code,
                                             "purchase_id": purchase.pk if purchase else None})


def use_reward(business, member_id: int, reward_id: int, *, branch_code: str | None = None,
               idempotency_key: str | None = None, actor: Actor = SYSTEM) -> dict:
    """A reward used outside a sale (a free coffee handed over). Discounts (an amount or a percent off) are
    used on a purchase instead."""
    if branch_code is not None and not Branch.objects.filter(business=business, code=branch_code).exists():
        raise InvalidInput("branch", "unknown_branch")

    def use_case() -> dict:
        member = lock_member(member_id, business.pk)
        reward = IssuedReward.objects.filter(business=business, member=member, pk=reward_id).first()
        if reward is None:
            raise NotFound("reward_not_found")
        now = timezone.now()
        _check_usable(reward, branch_code, now)
        if reward.gives in PRICED_REWARDS and reward.gives != "free_item":
            raise RewardRefused("reward_not_usable", reward_id=reward.pk, reason="needs_purchase")
        _use_reward(reward, now, branch_code, None)
        reward.refresh_from_db()
        return reward_json(reward, now)

    request = {"member_id": member_id, "reward_id": reward_id, "branch": branch_code}
    result, replayed = run_use_case(business, "reward_use", request, use_case, actor=actor, key=idempotency_key,
                                    object_type="reward")
    return result | {"replayed": replayed}


# --- purchases ---------------------------------------------------------------------------------------


def _member_result(member: Member, at: dt.datetime, club: ClubStanding | None = None,
                   held: dict[str, dict[str, int]] | None = None) -> dict:
    """The member after the activity, their balances as of its moment (`held` when the caller knows them)."""
    result = {"member_id": member.pk, "tier": member.tier or None,
              "balance": held if held is not None else balances(member, at)}
    if club is not None:  # a closed club's candidate, or the activity that admitted them
        result["club"] = {"member_status": member.status, "basis": club.basis, "progress": club.progress,
                          "threshold": club.threshold, "reason": club.reason}
    return result


@dataclass(frozen=True)
class PurchaseInput:
    """A purchase as a channel asks for it (the API, WooCommerce, the till's screen and offline sync …), each
    translating its own form into this; see record_purchase for what each field means."""

    member_id: int
    branch_code: str
    receipt: str
    total: int
    occurred_at: dt.datetime | None = None
    channel: str = ""
    lines: list[dict] | None = None
    redeem_points: int = 0
    redeem_wallet: int = 0
    redeem_gift_credit: int = 0
    codes: list[str] | None = None
    gift_card: dict | None = None
    units: dict | None = None
    other_amount: int = 0
    rewards: list[int] | None = None
    on_bad_code: str = "refuse"
    limit_backdating: bool = False
    lines_weigh_total: bool = False


class PurchaseResult(TypedDict, total=False):
    """A purchase's answer, as stored with it and replayed: a dict (PurchaseOut is its API shape). A dry run
    has no id, purchase_id, receipt, branch, status or replayed; `club` only for a closed club's candidate."""

    id: int
    purchase_id: int
    receipt: str
    branch: str
    status: str
    replayed: bool
    dry_run: bool
    program_version: int
    total: int
    discount: int
    points_redeemed: int
    points_value: int
    wallet_redeemed: int
    gift_credit_redeemed: int
    gift_card_redeemed: int
    earning_base: int
    payable: int
    other_amount: int
    effects: list[dict]  # kind, rule_id, currency, amount, reason (rendered), reason_code, reason_params, reward_*
    refused_codes: list[dict]
    rewards: list[dict]
    member_id: int
    tier: str | None
    balance: dict[str, dict[str, int]]
    club: dict


def record(business, order: PurchaseInput, *, dry_run: bool = False, idempotency_key: str | None = None,
           actor: Actor = SYSTEM) -> PurchaseResult:
    """The purchase use case with its typed input: what the channels call."""
    return cast(PurchaseResult, record_purchase(business, **vars(order), dry_run=dry_run,
                                                idempotency_key=idempotency_key, actor=actor))


@guards_code_lookups
def record_purchase(business, *, member_id: int, branch_code: str, receipt: str, total: int,
                    occurred_at: dt.datetime | None = None, channel: str = "", lines: list[dict] | None = None,
                    redeem_points: int = 0, redeem_wallet: int = 0, redeem_gift_credit: int = 0,
                    codes: list[str] | None = None, gift_card: dict | None = None, units: dict | None = None,
                    dry_run: bool = False, other_amount: int = 0, rewards: list[int] | None = None,
                    on_bad_code: str = "refuse", limit_backdating: bool = False, lines_weigh_total: bool = False,
                    idempotency_key: str | None = None, actor: Actor = SYSTEM) -> dict:
    """Register a purchase and answer its effects and the member's new balances. A second post of the same
    receipt at the same branch is a replay and returns the first answer. A dry run is the decide step alone
    (preview_purchase): the same checks and effects, nothing written, nothing locked. The channels call it
    through `record` with a PurchaseInput; these keywords are that input's fields.

    Lines must add up to the total, less the unitemised `other_amount` (delivery, service …); only WooCommerce,
    whose line subtotals are before its coupons, has its lines weigh the total instead (`lines_weigh_total`).
    `rewards` are ids of rewards the member holds, used on this purchase. `on_bad_code="skip"` leaves out codes
    that cannot be used and names them in `refused_codes`. `limit_backdating` (the API) refuses a moment
    further back than the program's `max_backdate_days`; imports and WooCommerce are exempt."""
    errors: list[dict] = []
    check_amount("total", total, errors)
    check_amount("other_amount", other_amount, errors)
    check_amount("redeem.points", redeem_points, errors)
    check_amount("redeem.wallet", redeem_wallet, errors)
    check_amount("redeem.gift_credit", redeem_gift_credit, errors)
    clean = clean_lines(lines, errors)
    clean_units = _clean_units(units, errors)
    at = _moment(occurred_at, "occurred_at", errors)
    receipt = (receipt or "").strip() if isinstance(receipt, str) else ""
    if not receipt or len(receipt) > 64:
        errors.append({"field": "receipt", "message": "required" if not receipt else "too_long"})
    if not isinstance(channel, str) or len(channel) > 32:
        errors.append({"field": "channel", "message": "bad_text"})
    branch = cache.branch_of(business, branch_code) if isinstance(branch_code, str) else None
    if branch is None:
        errors.append({"field": "branch", "message": "unknown_branch"})
    _check_items_add_up(clean, total, other_amount, lines_weigh_total, errors)
    reward_ids = _clean_reward_ids(rewards, errors)
    if on_bad_code not in ("refuse", "skip"):
        errors.append({"field": "on_bad_code", "message": "invalid"})
    if errors:
        raise InvalidInput(errors=errors)
    request = {"member_id": member_id, "branch": branch_code, "receipt": receipt, "total": total,
               "occurred_at": at.isoformat() if occurred_at else None, "channel": channel,
               "lines": [line.__dict__ for line in clean], "redeem_points": redeem_points,
               "redeem_wallet": redeem_wallet, "redeem_gift_credit": redeem_gift_credit, "units": clean_units,
               "codes": list(codes or []), "gift_card": gift_card}
    # only what a purchase said beyond the original fields, so the fingerprints of earlier receipts still match
    request |= {name: value for name, value in (("other_amount", other_amount), ("rewards", reward_ids),
                                                ("on_bad_code", on_bad_code)) if value not in (0, [], "refuse")}
    setup = cache.setup_of(business)  # confirmed by the token read with the member (program.cache)
    ctx = context_of(business)

    def confirm(token: int) -> cache.Setup:
        """The setup as of the token just read beside the member; the checks made on an older copy again."""
        current = cache.setup_of(business, token)
        if current is not setup:
            if current.branches.get(branch_code) is None:
                raise InvalidInput("branch", "unknown_branch")
            check_backdating(current)
        return current

    def check_backdating(current: cache.Setup) -> None:
        if limit_backdating and occurred_at is not None:
            _check_backdating(at, current.document.settings.max_backdate_days)

    try:
        check_backdating(setup)
    except InvalidInput:
        setup = cache.refresh(business)  # refused only by the program as it is now
        check_backdating(setup)

    place = (branch.pk, receipt)  # the receipt asked about by the load
    if dry_run:  # its fingerprint only for a replay's answer
        result = preview_purchase(
            business, setup, confirm, ctx, place, member_id=member_id, branch_code=branch_code, channel=channel,
            total=total, at=at, lines=clean, units=clean_units, redeem_points=redeem_points,
            redeem_wallet=redeem_wallet, redeem_gift_credit=redeem_gift_credit, codes=codes or [],
            reward_ids=reward_ids, gift_card=gift_card, other_amount=other_amount, on_bad_code=on_bad_code,
            fingerprint_=lambda: fingerprint("purchase", request))
        for name in ("id", "purchase_id", "receipt", "branch", "status", "replayed"):
            result.pop(name, None)  # a replay's answer
        return result | {"dry_run": True}
    print_ = fingerprint("purchase", request)

    def use_case() -> dict:
        with batched():
            return write_purchase()

    def write_purchase() -> dict:
        # load: the member's lock, then one statement (counters.Load), both in one round trip (core.sql.read_all:
        # the load waits for the lock, so it reads what the lock guards); built with the cached program, built
        # and read again when the lock's cache token says the program changed
        pending = counters.Load(business.pk, member_id, setup.document, at, ctx, place, take_id=True)
        locked, rows = read_all([lock_statement(member_id, business.pk, token=True), (pending.sql, pending.params)])
        member = member_of(locked, token=True)
        current = confirm(member.cache_token)
        version, document, branch = current.version, current.document, current.branches[branch_code]
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        loaded = (pending.finish(member, rows) if current is setup
                  else counters.load(member, document, at, ctx, (branch.pk, receipt), take_id=True))
        before = loaded.standing
        if before.earlier_purchase_id:
            return _replay(Purchase.objects.get(business=business, pk=before.earlier_purchase_id), print_)
        # decide: the row every other row refers to by its id, with its priced columns
        purchase = new(Purchase, id=loaded.purchase_id, business=business, member=member, branch=branch,
                            receipt=receipt, occurred_at=at, channel=channel, total=total,
                            other_amount=other_amount, program_version=version.version, units=clean_units,
                            fingerprint=print_, **actor.fields())
        held = _held_rewards(member, reward_ids, branch_code, timezone.now())
        discounts = _discounts(business, document, ctx, member, purchase, codes or [], held, clean, branch_code,
                               at, on_bad_code)
        q = quote(document, ctx, member, branch_code=branch_code, channel=channel, total=total, at=at,
                  lines=clean, units=clean_units, redeem_points=redeem_points, redeem_wallet=redeem_wallet,
                  standing=before, redeem_gift_credit=redeem_gift_credit, discount_effects=discounts.effects,
                  gift_card=gift_card, other_amount=other_amount, held=_spendable(loaded.balances))
        for name, value in _priced(q).items():
            setattr(purchase, name, value)
        # a closed club's entry threshold counts this purchase, whose row is not written yet
        club = admit_if_qualified(member, document, at, unwritten={"spend": purchase.spend, "purchases": 1})
        if member.status == Member.Status.CANDIDATE:
            q.effects = [e for e in q.effects if e.kind == "discount"]  # a candidate earns nothing yet
        # write: one plan (core.sql), the purchase row first, so that every row referring to it finds it at once
        # (the composite foreign keys of the Citus plan, docs/scaling.md, are checked per statement, not at
        # commit). What still writes through the ORM at once (the credit payments, rewards issued, a referral's
        # rewards) has the plan so far written before it; the common purchase writes it all in one go, its
        # stored answer in the purchase row.
        plan, changes = WritePlan(), counters.Changes(business.pk)
        row = purchases_sql.PurchaseRow(plan, purchase, [
            {"business_id": business.pk, "purchase_id": purchase.pk, "position": i, "sku": line.sku,
             "name": line.name, "category": line.category, "quantity": line.quantity,
             "unit_price": line.unit_price, "amount": line.amount} for i, line in enumerate(clean)])
        referred = bool(member.referred_by_id and before.purchase_count == 0)
        if (q.gift_card_redeemed or q.points_redeemed or q.wallet_redeemed or q.gift_credit_redeemed or referred
                or any(effect.kind == "reward" for effect in q.effects)):
            row.write_now()
        _spend_credit(member, purchase, q, version.version, at, actor, ctx, changes, plan)
        _apply_effects(member, q.effects, document, version.version, at, actor, changes, plan, purchase=purchase,
                       pending=True)
        changes.purchase(member.pk, at, (False, 0), (True, purchase.spend))
        if referred:
            plan.write()  # before the referral's own writes, and the balances read back below
            if not member.mobile_verified:  # sign-up rewards held since a join-page sign-up (paid once)
                reward_referral(member, "signup", at)
            reward_referral(member, "first_purchase", at)
        if member.status != Member.Status.CANDIDATE:
            upgrade_if_qualified(member, document, at, actor, before, changes, plan)
        changes.write(plan)
        # the balances the plan leaves; a referral's rewards (a referred member's first purchase) are read back
        after = balances(member, at) if referred else balances_after(document, loaded.balances, q)
        result = _quote_result(q, version.version, dry_run=False) | {
            "id": purchase.pk, "purchase_id": purchase.pk, "receipt": receipt, "branch": branch_code,
            "status": purchase.status, "other_amount": other_amount, "refused_codes": discounts.refused,
            "rewards": discounts.rewards, "replayed": False} | _member_result(member, at, club, after)
        emit(business.pk, "purchase.created", {"purchase_id": purchase.pk, "member_id": member.pk,
                                               "receipt": receipt, "branch": branch_code, "total": total,
                                               "other_amount": other_amount, "discount": q.discount,
                                               "payable": q.payable, "effects": result["effects"],
                                               "rewards": discounts.rewards})
        # the answer, now that the writes have settled it (a tier change, a referral's rewards)
        row.answer(result)
        into_plan(plan)
        write_last(plan, row.write)  # with the audit row and the key's answer (run_use_case)
        return result

    result, replayed = run_use_case(business, "purchase", request, use_case, actor=actor, key=idempotency_key,
                                    object_type="purchase", object_id="purchase_id")
    return result | {"replayed": True} if replayed else result


def preview_purchase(business, setup: cache.Setup, confirm: Callable[[int], cache.Setup], ctx: Context,
                     place: tuple[int, str], *, member_id: int, branch_code: str, channel: str, total: int,
                     at: dt.datetime, lines: list[LineRequest], units: dict[str, int], redeem_points: int,
                     redeem_wallet: int, redeem_gift_credit: int, codes: list[str], reward_ids: list[int],
                     gift_card: dict | None, other_amount: int, on_bad_code: str,
                     fingerprint_: Callable[[], str]) -> dict:
    """A dry run as the decide step alone: the member's snapshot read without a transaction or a lock, in one
    round trip with the load built on the cached `setup` (and that program confirmed by `confirm` with the token
    read beside the member; the load built and read again when it changed), the rows the purchase would
    lock read as they are (codes, held rewards, a gift card, the gift-credit lots with what is due settled in
    memory), then the same pure decisions as the purchase: discounts, pricing and evaluation (quote), a closed
    club's admission, the referral rewards of a referred member's first purchase, the tier it would reach and
    the balances it would leave. Nothing is written, nothing is locked, nothing rolled back. Answers the
    purchase's result (as record_purchase's use case does), or the same refusal."""
    pending = counters.Load(business.pk, member_id, setup.document, at, ctx, place, take_id=False)
    found, rows = read_all([read_statement(member_id, business.pk), (pending.sql, pending.params)])
    member = member_of(found, token=True)
    member.business = business  # held already: a gift card, a closed club's context read it without a query
    current = confirm(member.cache_token)
    version, document, branch = current.version.version, current.document, current.branches[branch_code]
    if member.status == Member.Status.BLOCKED:
        raise Conflict("member_blocked")
    loaded = (pending.finish(member, rows) if current is setup
              else counters.load(member, document, at, ctx, (branch.pk, place[1]), take_id=False))
    before = loaded.standing
    if before.earlier_purchase_id:
        return _replay(Purchase.objects.get(business=business, pk=before.earlier_purchase_id), fingerprint_())
    held = _held_rewards(member, reward_ids, branch_code, timezone.now(), lock=False)

    def price(codes: list[str], basket: Basket, rewards: tuple, standing: tuple) -> list[Applied]:
        return price_codes_for_purchase(business, member, codes, basket, branch_code, at=at, language=ctx.language,
                                        rewards=rewards, standing=standing)

    discounts = decide_discounts(document, ctx, member, total, codes, held, lines, at, on_bad_code, price)
    q = quote(document, ctx, member, branch_code=branch.code, channel=channel, total=total, at=at, lines=lines,
              units=units, redeem_points=redeem_points, redeem_wallet=redeem_wallet, standing=before,
              redeem_gift_credit=redeem_gift_credit, discount_effects=discounts.effects, gift_card=gift_card,
              other_amount=other_amount, held=_spendable(loaded.balances),
              gift_credit=gift_credit_lots(member, at) if redeem_gift_credit else None)
    # this object is the dry run's own copy, never saved: it takes the status and tier the purchase would give
    club, admitted = admission(member, document, ctx, unwritten={"spend": total - q.discount, "purchases": 1})
    if admitted:
        member.status = Member.Status.ACTIVE
    if member.status == Member.Status.CANDIDATE:
        q.effects = [e for e in q.effects if e.kind == "discount"]  # a candidate earns nothing yet
    else:
        earned = sum(effect.amount for effect in q.effects
                     if effect.kind == "earn" and effect.currency == "points" and effect.amount > 0)
        basis = document.tiers.basis if document.tiers else None
        upgrade = tier_upgrade(member, document, before.tier_metric + {
            "spend": total - q.discount, "points": earned}.get(basis or "", 1))  # the other bases count activities
        if upgrade:
            member.tier = upgrade[0]
    after = balances_after(document, loaded.balances, q)
    if member.referred_by_id and before.purchase_count == 0:
        moments = ("first_purchase",) if member.mobile_verified else ("signup", "first_purchase")
        for currency, amount in referee_rewards(member, document, moments):
            after.setdefault(currency, {"available": 0, "pending": 0})["available"] += amount
    return _quote_result(q, version, dry_run=True) | {
        "other_amount": other_amount, "refused_codes": discounts.refused, "rewards": discounts.rewards,
    } | _member_result(member, at, club, after)


def _spendable(held: dict[str, dict[str, int]]) -> Callable[[str], int]:
    """What the member can spend of a currency, from the balances loaded as of the purchase's moment."""
    return lambda currency: max(held[currency]["available"], 0)


def _priced(q: Quote) -> dict[str, int]:
    """The purchase row's priced columns."""
    return {"discount": q.discount, "points_redeemed": q.points_redeemed, "points_value": q.points_value,
            "wallet_redeemed": q.wallet_redeemed, "gift_credit_redeemed": q.gift_credit_redeemed,
            "gift_card_redeemed": q.gift_card_redeemed, "earning_base": q.earning_base, "payable": q.payable,
            "spend": q.total - q.discount}


def balances_after(document: ProgramDocument, before: dict[str, dict[str, int]], q: Quote) -> dict:
    """The member's balances once the purchase's plan is written, from those loaded as of its moment: what it
    spends taken from available, what it earns added (pending within the return window). The dry run and the
    purchase answer the same."""
    after = {currency: dict(held) for currency, held in before.items()}
    for currency, spent in (("points", q.points_redeemed), ("wallet", q.wallet_redeemed),
                            ("gift_credit", q.gift_credit_redeemed)):
        after[currency]["available"] -= spent
    for effect in q.effects:
        if effect.kind in ("earn", "cashback") and effect.amount > 0 and effect.currency:
            pending = document.settings.currency(effect.currency).pending_days > 0  # the return window
            held = after.setdefault(effect.currency, {"available": 0, "pending": 0})
            held["pending" if pending else "available"] += effect.amount
    return after


@dataclass
class Discounts:
    """What a purchase's codes, rewards and standing promotions took off, and what was left out."""

    effects: tuple[Effect, ...]
    refused: list[dict]  # with on_bad_code "skip": {code, reason_code, detail}
    rewards: list[dict]  # the member's rewards used: {id, code, name, gives, discount}


def _discounts(business, document: ProgramDocument, ctx: Context, member: Member, purchase: Purchase,
               codes: list[str], held: list[IssuedReward], lines: list[LineRequest], branch_code: str,
               at: dt.datetime, on_bad_code: str) -> Discounts:
    """The purchase's discounts (decide_discounts), its codes redeemed and its rewards marked used."""
    def redeem(codes: list[str], basket: Basket, rewards: tuple, standing: tuple) -> list[Applied]:
        with transaction.atomic():  # a savepoint: a refused code leaves no count behind
            return redeem_codes_for_purchase(business, member, purchase.pk, codes, basket, branch_code, at=at,
                                             language=ctx.language, rewards=rewards, standing=standing)

    discounts = decide_discounts(document, ctx, member, purchase.total, codes, held, lines, at, on_bad_code, redeem)
    for reward in held:
        _use_reward(reward, timezone.now(), branch_code, purchase)
    return discounts


def decide_discounts(document: ProgramDocument, ctx: Context, member: Member, total: int, codes: list[str],
                     held: list[IssuedReward], lines: list[LineRequest], at: dt.datetime, on_bad_code: str,
                     price: Callable[[list[str], Basket, tuple, tuple], list[Applied]]) -> Discounts:
    """Discount codes first, in the order entered, each on the basket as the previous ones left it; then the
    member's rewards; then their standing promotions (tier, paid plan). Of the order-wide percentages only the
    best applies. The unitemised part of the total is not an item: codes and rewards discount items only.
    `price(codes, basket, rewards, standing)` prices the codes with the rewards and promotions, refusing a code
    that cannot be used (VoucherRejected): the purchase redeems them, a dry run only prices them."""
    standing = _standing_terms(document, ctx, member, at)
    priced = [(reward, terms) for reward in held if (terms := reward_terms(reward)) is not None]
    refused: list[dict] = []
    applied: list[Applied] = []
    if codes or standing or priced:
        basket = _basket(lines, total)
        while True:
            try:
                applied = price(codes, basket, tuple(terms for _, terms in priced), standing)
                break
            except VoucherRejected as exc:
                if on_bad_code != "skip" and exc.params.get("reason") == "not_found":
                    index = [normalize_code(code) for code in codes].index(exc.params["voucher"])
                    raise InvalidInput(f"codes.{index}", "unknown_code") from None
                if on_bad_code != "skip":
                    raise  # a real code that cannot be used now: 409 with the reason
                refused.append({"code": exc.params["voucher"], "reason_code": exc.params["reason"],
                                "detail": exc.describe(ctx.language)})
                codes = [code for code in codes if normalize_code(code) != exc.params["voucher"]]
    code_results, reward_results = applied[:len(codes)], applied[len(codes):len(codes) + len(priced)]
    discount_by_reward = {}
    for (reward, _), result in zip(priced, reward_results, strict=True):
        if not result.applied:
            raise RewardRefused("reward_not_usable", reward_id=reward.pk, reason=result.status, **result.params)
        discount_by_reward[reward.pk] = result.discount
    used = [{"id": reward.pk, "code": reward.reward_code, "name": reward.name, "gives": reward.gives,
             "discount": discount_by_reward.get(reward.pk, 0)} for reward in held]
    return Discounts(_discount_effects(applied, len(code_results), total, ctx.language), refused, used)


def _standing_terms(document: ProgramDocument, ctx: Context, member: Member, at: dt.datetime) -> tuple:
    """The member's standing order-wide percentages (tier, paid plan), to compete with the codes: worked out
    once per program version, tier, plan and context (program.derived)."""
    place = derived.of(document).setdefault("standing_terms", {})
    key = (member.tier or None, member.plan_at(at), ctx)
    terms = place.get(key)
    if terms is None:
        terms = place[key] = tuple(VoucherTerms.standing(p.rule_id, p.percent, p.label)
                                   for p in member_promotions(document, *key))
    return terms


def _basket(lines: list[LineRequest], total: int):
    return Basket(tuple(BasketLine(line.sku, line.category, line.quantity, line.amount) for line in lines)
                  if lines else (BasketLine("", "", 1, total),), shipping=0)


def _discount_effects(applied: list, codes: int, total: int, language: str) -> tuple[Effect, ...]:
    """The priced codes (the first `codes` of `applied`), rewards and promotions that took something off."""
    return tuple(Effect("discount", f"code:{a.code}" if i < codes else a.code, a.discount, None, total, a.why,
                        language=language)
                 for i, a in enumerate(applied) if a.applied and a.discount)


def _replay(purchase: Purchase, print_: str) -> dict:
    if purchase.fingerprint != print_:
        raise Conflict("receipt_exists", receipt=purchase.receipt)
    return {"id": purchase.pk} | purchase.result | {"replayed": True}  # answers stored before `id` lacked it


def _quote_result(q: Quote, version: int, dry_run: bool) -> dict:
    return {"dry_run": dry_run, "program_version": version, "total": q.total, "discount": q.discount,
            "points_redeemed": q.points_redeemed, "points_value": q.points_value,
            "wallet_redeemed": q.wallet_redeemed, "gift_credit_redeemed": q.gift_credit_redeemed,
            "gift_card_redeemed": q.gift_card_redeemed,
            "earning_base": q.earning_base, "payable": q.payable,
            "effects": [_effect_json(e) for e in q.effects]}


def _spend_credit(member: Member, purchase: Purchase, q: Quote, version: int, at: dt.datetime, actor: Actor,
                  ctx: Context, changes: counters.Changes, plan: WritePlan) -> None:
    """The credit payments: the card and the ledger's debits written at once (they read the lots they take), the
    spend effects into the `plan`."""
    effects = []
    if q.gift_card_redeemed:
        reason = Reason("purchase.paid_gift_card", {"receipt": purchase.receipt})
        pay_with_card(q.gift_card, q.gift_card_redeemed, purchase=purchase, reason=reason, at=at)
        effects.append(_effect_row(member, "spend", "redeem:gift_card", "gift_card", q.gift_card_redeemed, reason,
                                   at, version, purchase=purchase))
        changes.effect(member.pk, at, "spend", "redeem:gift_card", "gift_card", q.gift_card_redeemed)
    for currency, amount, value in (("points", q.points_redeemed, q.points_value),
                                    ("wallet", q.wallet_redeemed, q.wallet_redeemed),
                                    ("gift_credit", q.gift_credit_redeemed, q.gift_credit_redeemed)):
        if not amount:
            continue
        reason = Reason("purchase.paid", {"amount": amount, "currency": currency, "money": ctx.currency,
                                          "receipt": purchase.receipt})
        ledger.debit(member, currency, amount, reason=reason, at=at, actor=actor, purchase=purchase,
                     program_version=version, plan=q.gift_credit_plan if currency == "gift_credit" else None)
        effects.append(_effect_row(member, "spend", f"redeem:{currency}", currency, amount, reason, at, version,
                                   purchase=purchase))
        changes.effect(member.pk, at, "spend", f"redeem:{currency}", currency, amount)
        emit(member.business_id, f"{currency}.spent" if currency == "points" else "credit.spent",
             {"member_id": member.pk, "currency": currency, "amount": amount, "value": value,
              "purchase_id": purchase.pk})
    plan.insert(RewardEffect, effects)
