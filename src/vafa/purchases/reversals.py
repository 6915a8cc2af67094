"""Returns and cancellations, in the purchase's shape (issue 11): load → decide → write.

- Load, under the member's lock: the purchase (locked), the effects it may reverse, its lines when items are
  returned, the member's accounts and live lots (what is due by now written down first) and what its spends
  took from which lots: a handful of statements, whatever the number of currencies and lots.
- Decide (`decide`, no database): typed rows in, a `ReturnPlan` out — the part returned, the line quantities,
  each effect's reversed share, and the ledger's reversal as a `LedgerDraft` (entries, lot changes, new lots,
  balances), each step seeing the lots as the steps before it left them.
- Write: one core.sql.WritePlan of hand-written statements, one round trip on PostgreSQL: the ledger's draft
  (ledger.write_draft), the effects, lines and purchase, the counters, the return row with its answer, the
  outbox events. A cancellation or a full return also gives back the codes and the rewards the purchase used
  and revokes stamp and sequence rewards no longer owed.

A return's shares are cumulative (core.arith.cumulative_share), so a full return reverses exactly everything
and nothing is reversed twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.arith import apportion, cumulative_share
from vafa.core.errors import AlreadyDone, InvalidInput, NotFound
from vafa.core.reasons import Reason
from vafa.core.sql import WritePlan, row_of, set_columns
from vafa.core.usecase import run_use_case
from vafa.core.validation import check_amount
from vafa.ledger import services as ledger
from vafa.ledger.giftcards import give_back_to_card
from vafa.ledger.maths import DraftLot, LedgerDraft
from vafa.ledger.selectors import CURRENCIES
from vafa.members.services import lock_member
from vafa.outbox.services import batched, emit, into_plan
from vafa.program import cache
from vafa.program.engine import reconcile_rewards
from vafa.program.selectors import context_of, program_version
from vafa.purchases import counters
from vafa.purchases.models import IssuedReward, Purchase, PurchaseLine, Return, RewardEffect
from vafa.vouchers.services import rollback_for_purchase

REVERSIBLE = ("earn", "cashback", "spend")  # a discount is not given back: the returned part was never paid


@dataclass(frozen=True)
class PurchaseView:
    id: int
    receipt: str
    total: int
    discount: int
    other_amount: int
    returned_amount: int
    spend: int
    status: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class LineView:
    id: int
    sku: str
    quantity: int
    amount: int
    returned_quantity: int


@dataclass(frozen=True)
class EffectView:
    id: int
    kind: str
    rule_id: str
    currency: str
    amount: int
    reversed_amount: int
    occurred_at: dt.datetime


@dataclass(frozen=True)
class ReturnRequest:
    amount: int | None = None
    lines: list[dict] | None = None
    cancel: bool = False


@dataclass
class Loaded:
    """What a return decides on, read under the member's lock."""

    purchase: PurchaseView
    lines: list[LineView]
    effects: list[EffectView]
    ledger: LedgerDraft
    taken: dict[str, list[tuple[DraftLot, int]]]  # per currency: what the spends took, last taken first
    expiry_days: dict[str, int]  # per currency, of the purchase's program: a given-back lot's life
    money: str  # the business currency, for the reasons


@dataclass
class ReturnPlan:
    """Everything a return writes, decided."""

    part: int
    returned_amount: int
    spend: int
    status: str
    line_quantities: dict[int, int]  # line id → returned quantity after this return
    returned_lines: list[dict]  # [{line_id, quantity}] of this return
    effects: dict[int, int]  # effect id → reversed amount after this return
    gift_card: list[tuple[int, Reason]]  # what goes back to the gift card that paid
    reversed: list[dict]  # the answer's "reversed"
    events: list[tuple[str, dict]]
    changes: counters.Changes
    given_back_uses: bool  # no longer counted: the codes and rewards it used are given back
    ledger: LedgerDraft = field(repr=False)


# --- decide -----------------------------------------------------------------------------------------------


def returned_value(purchase: PurchaseView, lines: list[LineView], raw_lines: list[dict],
                   errors: list[dict]) -> tuple[int, list[tuple[LineView, int]]]:
    """The part of the purchase total that returned items stand for, and the line quantities returned."""
    values = apportion(purchase.total - purchase.other_amount, [line.amount for line in lines])
    by_key: dict[tuple, tuple[LineView, int]] = {}
    for line, value in zip(lines, values, strict=True):
        by_key.setdefault(("id", line.id), (line, value))
        if line.sku:
            by_key.setdefault(("sku", line.sku), (line, value))
    amount = 0
    moves: list[tuple[LineView, int]] = []
    for i, raw in enumerate(raw_lines):
        key = ("id", raw.get("line_id")) if raw.get("line_id") is not None else ("sku", raw.get("sku"))
        quantity = raw.get("quantity", 1)
        if key not in by_key:
            errors.append({"field": f"lines.{i}", "message": "no_such_line"})
            continue
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            errors.append({"field": f"lines.{i}.quantity", "message": "must_be_positive"})
            continue
        line, value = by_key[key]
        already = line.returned_quantity + sum(q for other, q in moves if other.id == line.id)
        if already + quantity > line.quantity:
            errors.append({"field": f"lines.{i}.quantity", "message": "more_than_bought"})
            continue
        amount += cumulative_share(value, already, quantity, line.quantity)
        moves.append((line, quantity))
    return amount, moves


def _part(loaded: Loaded, request: ReturnRequest) -> tuple[int, list[tuple[LineView, int]]]:
    purchase = loaded.purchase
    left = purchase.total - purchase.returned_amount
    errors: list[dict] = []
    moves: list[tuple[LineView, int]] = []
    if request.cancel:
        part = left
    elif request.lines:
        part, moves = returned_value(purchase, loaded.lines, request.lines, errors)
        if not errors and part > left:
            # an earlier return by amount already took part of the total: what the items stand for must
            # still fit in what is not yet returned, or the purchase would return more than was sold
            errors.append({"field": "lines", "message": "items_worth_more_than_not_yet_returned",
                           "params": {"requested": part, "available": left}})
    elif request.amount is not None:
        check_amount("amount", request.amount, errors, allow_zero=False)
        part = request.amount if not errors else 0
        if not errors and request.amount > left:
            errors.append({"field": "amount", "message": "more_than_not_yet_returned"})
    else:
        errors.append({"field": "amount", "message": "give_amount_or_lines"})
        part = 0
    if errors:
        raise InvalidInput(errors=errors)
    return part, moves


def decide(loaded: Loaded, request: ReturnRequest, member_id: int, business_id: int, at: dt.datetime) -> ReturnPlan:
    """The return as a plan, from what was loaded alone. What it earned is reversed and what it spent given
    back, each effect in proportion to the returned part of the total."""
    purchase = loaded.purchase
    if purchase.status in (Purchase.Status.RETURNED, Purchase.Status.CANCELLED):
        raise AlreadyDone("purchase_already_reversed", status=purchase.status)
    part, moves = _part(loaded, request)
    draft = loaded.ledger
    changes = counters.Changes(business_id)
    reversed_amounts, gift_card, done, events = {}, [], [], []
    for effect in loaded.effects:
        share = cumulative_share(effect.amount, purchase.returned_amount, part, purchase.total)
        share = min(share, effect.amount - effect.reversed_amount)
        if share <= 0:
            continue
        unrecovered = 0
        what = {"amount": share, "currency": effect.currency, "money": loaded.money, "receipt": purchase.receipt}
        if effect.kind == "spend" and effect.currency == "gift_card":
            gift_card.append((share, Reason("return.gift_card", {"receipt": purchase.receipt})))
        elif effect.kind == "spend":
            days = loaded.expiry_days.get(effect.currency, 0)
            draft.give_back(effect.currency, share, loaded.taken.get(effect.currency, []),
                            Reason("return.given_back", what), at, at + dt.timedelta(days=days) if days else None,
                            purchase.id)
            events.append(("credit.returned", {"member_id": member_id, "currency": effect.currency,
                                               "amount": share, "purchase_id": purchase.id}))
        else:
            unrecovered = draft.claw_back(effect.currency, share, purchase.id, Reason("return.reversed", what),
                                          effect.rule_id)
        # The share counts as reversed even where a money-like credit was already spent (unrecovered), so it
        # is never claimed twice.
        reversed_amounts[effect.id] = effect.reversed_amount + share
        changes.effect(member_id, effect.occurred_at, effect.kind, effect.rule_id, effect.currency, -share)
        done.append({"kind": "give_back" if effect.kind == "spend" else "reverse", "currency": effect.currency,
                     "amount": share - unrecovered, "unrecovered": unrecovered, "rule_id": effect.rule_id})
    returned = purchase.returned_amount + part
    paid = purchase.total - purchase.discount
    spend = paid - cumulative_share(paid, 0, returned, purchase.total)
    if request.cancel:
        status = Purchase.Status.CANCELLED
    elif returned >= purchase.total:
        status = Purchase.Status.RETURNED
    else:
        status = Purchase.Status.PARTIALLY_RETURNED
    changes.purchase(member_id, purchase.occurred_at, (purchase.status in Purchase.COUNTED, purchase.spend),
                     (status in Purchase.COUNTED, spend))
    quantities: dict[int, int] = {}
    for line, quantity in moves:
        quantities[line.id] = quantities.get(line.id, line.returned_quantity) + quantity
    return ReturnPlan(part, returned, spend, status, quantities,
                      [{"line_id": line.id, "quantity": q} for line, q in moves], reversed_amounts, gift_card, done,
                      events, changes, status not in Purchase.COUNTED, draft)



# --- load and write ---------------------------------------------------------------------------------------------


def _load(business, member, purchase_id: int, request: ReturnRequest, at: dt.datetime,
          setup: cache.Setup) -> tuple[Purchase, Loaded]:
    row = Purchase.objects.select_for_update().get(business=business, pk=purchase_id)
    purchase = PurchaseView(row.pk, row.receipt, row.total, row.discount, row.other_amount, row.returned_amount,
                            row.spend, row.status, row.occurred_at)
    effects = [EffectView(e.pk, e.kind, e.rule_id, e.currency, e.amount, e.reversed_amount, e.occurred_at)
               for e in RewardEffect.objects.filter(business=business, purchase_id=row.pk, kind__in=REVERSIBLE)
               .only("kind", "rule_id", "currency", "amount", "reversed_amount", "occurred_at").order_by("id")]
    lines = [LineView(line.pk, line.sku, line.quantity, line.amount, line.returned_quantity)
             for line in PurchaseLine.objects.filter(business=business, purchase_id=row.pk).order_by("position")
             ] if request.lines and not request.cancel else []
    spent = {e.currency for e in effects if e.kind == "spend" and e.currency != "gift_card"}
    draft, taken = ledger.reversal_draft(member, at, purchase_id=row.pk if spent else None)
    expiry_days = {}
    if spent:
        document = (setup.document if setup.version.version == row.program_version
                    else program_version(business, row.program_version))
        expiry_days = {currency: document.settings.currency(currency).expiry_days for currency in spent}
    return row, Loaded(purchase, lines, effects, draft, taken, expiry_days, business.currency)


def _write(business, member, row: Purchase, plan: ReturnPlan, reason: str, cancel: bool, at: dt.datetime,
           actor: Actor, setup: cache.Setup) -> dict:
    if plan.gift_card:  # rare: through the ORM, before the plan
        for share, why in plan.gift_card:
            give_back_to_card(row, share, reason=why, at=at)
    writes = WritePlan()
    ledger.write_draft(member, plan.ledger, at=at, actor=actor, purchase=row, source="return", plan=writes)
    set_columns(writes, RewardEffect._meta.db_table, ("reversed_amount",), business.pk,
                {pk: (amount,) for pk, amount in plan.effects.items()})
    set_columns(writes, PurchaseLine._meta.db_table, ("returned_quantity",), business.pk,
                {pk: (quantity,) for pk, quantity in plan.line_quantities.items()})
    done_before = row.returned_amount
    row.returned_amount, row.spend, row.status = plan.returned_amount, plan.spend, plan.status
    set_columns(writes, Purchase._meta.db_table, ("returned_amount", "spend", "status"), business.pk,
                {row.pk: (row.returned_amount, row.spend, row.status)})
    plan.changes.write(writes)
    for event_type, payload in plan.events:
        emit(business.pk, event_type, payload)
    if plan.given_back_uses:
        writes.write()  # the counts first: the reconciliation below reads them
        rollback_for_purchase(business, row.pk, at=at)  # the codes can be used again
        _give_back_rewards(business, member, row, setup, at)  # and so can the member's rewards
    held = {currency: {"available": plan.ledger.balances.get((currency, "available"), 0),
                       "pending": plan.ledger.balances.get((currency, "pending"), 0)} for currency in CURRENCIES}
    result = {"purchase_id": row.pk, "status": row.status, "returned_amount": plan.part,
              "returned_total": row.returned_amount, "previously_returned": done_before,
              "reversed": plan.reversed, "member_id": member.pk, "tier": member.tier or None, "balance": held}
    record = Return(business=business, purchase=row, amount=plan.part, lines=plan.returned_lines,
                    cancellation=cancel, reason=(reason or "")[:300], created_at=at, result=result, **actor.fields())
    written = writes.insert(Return, [row_of(record)], returning=True)
    emit(business.pk, "purchase.returned" if not cancel else "purchase.cancelled",
         {"purchase_id": row.pk, "member_id": member.pk, "amount": plan.part, "status": row.status})
    into_plan(writes)
    writes.write()
    assert written is not None
    record.pk = written.rows[0][0]
    return {"id": record.pk, "return_id": record.pk} | result


def _give_back_rewards(business, member, purchase: Purchase, setup: cache.Setup, at: dt.datetime) -> None:
    """A purchase no longer counted gives back the rewards it used, as it gives back its codes, and revokes the
    stamp and sequence rewards the counts no longer owe (they are exact, returns included). The member's live
    rewards are read once for both."""
    live = list(IssuedReward.objects.filter(business=business, member=member)
                .exclude(status=IssuedReward.Status.REVOKED).values_list("pk", "key", "status", "used_purchase_id",
                                                                         "reward_code"))
    given = [(pk, code) for pk, _, status, used, code in live
             if status == IssuedReward.Status.USED and used == purchase.pk]
    if given:
        IssuedReward.objects.filter(pk__in=[pk for pk, _ in given]).update(
            status=IssuedReward.Status.ISSUED, used_at=None, used_purchase=None, used_branch="")
    for pk, code in given:
        emit(business.pk, "reward.returned", {"member_id": member.pk, "reward_id": pk, "reward_code": code,
                                              "purchase_id": purchase.pk})
    document = setup.document
    rules = [rule for rule in document.rules if rule.kind in ("stamp", "sequence")]
    if not rules:
        return
    ctx = context_of(business)
    now = counters.standing(member, document, at, ctx)
    _, revoke = reconcile_rewards(document, now.purchase_count, now.visit_count,
                                  frozenset(key for _, key, *_ in live), ctx, rules)
    for effect in revoke:
        IssuedReward.objects.filter(business=business, member=member, key=effect.reward_key,
                                    status=IssuedReward.Status.ISSUED).update(
            status=IssuedReward.Status.REVOKED, revoked_at=at, reason_code=effect.why.code,
            reason_params=dict(effect.why.params))
        emit(business.pk, "reward.revoked", {"member_id": member.pk, "key": effect.reward_key})


# --- the use cases ----------------------------------------------------------------------------------------------


def return_purchase(business, purchase_id: int, *, amount: int | None = None, lines: list[dict] | None = None,
                    reason: str = "", idempotency_key: str | None = None, actor: Actor = SYSTEM,
                    at: dt.datetime | None = None, _cancel: bool = False) -> dict:
    """Return part or all of a purchase, by items or by amount. What it earned is reversed and what it spent
    is given back, in proportion to the returned part of the total; the shares are computed cumulatively so a
    full return reverses exactly everything and nothing is reversed twice. `reason`: what a person (or
    WooCommerce) wrote, kept as a note (core.reasons)."""
    purchase = Purchase.objects.filter(business=business, pk=purchase_id).only("pk", "member_id").first()
    if purchase is None:
        raise NotFound("purchase_not_found")
    request = {"purchase_id": purchase_id, "amount": amount, "lines": lines, "cancel": _cancel, "reason": reason}
    asked = ReturnRequest(amount, lines, _cancel)

    def use_case() -> dict:
        member = lock_member(purchase.member_id, business.pk, token=True)
        setup = cache.setup_of(business, member.cache_token)
        when = at or timezone.now()
        with batched():
            row, loaded = _load(business, member, purchase_id, asked, when, setup)
            plan = decide(loaded, asked, member.pk, business.pk, when)
            return _write(business, member, row, plan, reason, _cancel, when, actor, setup)

    result, replayed = run_use_case(business, "return", request, use_case, actor=actor, key=idempotency_key,
                                    object_type="purchase", object_id="purchase_id")
    return {"id": result["return_id"]} | result | {"replayed": replayed}  # answers stored before `id` lacked it


def cancel_purchase(business, purchase_id: int, *, reason: str = "", idempotency_key: str | None = None,
                    actor: Actor = SYSTEM, at: dt.datetime | None = None) -> dict:
    """Reverse a purchase completely: everything not yet returned."""
    return return_purchase(business, purchase_id, reason=reason, idempotency_key=idempotency_key, actor=actor,
                           at=at, _cancel=True)
