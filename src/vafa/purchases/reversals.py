"""Returns and cancellations, in the purchase's shape (issue 11): load → decide → write.

- Load, in one round trip (core.sql.read_all), after the purchase's member is read: the member's lock, then the
  accounts, the live lots and what the purchase's spends took from which (ledger.sql.reversal_lots), the purchase
  (locked) with whether its codes are still redeemed, the member's counts and the return's id, its effects and the
  member's rewards, its lines when items are returned (purchases.sql.reversal_reads). What is due by now is written
  down first only when a loaded lot is due (ledger.maths.StoredLot.is_due), and the ledger read again.
- Decide (`decide`, no database): typed rows in, a `ReturnPlan` out — the part returned, the line quantities,
  each effect's reversed share, and the ledger's reversal as a `LedgerDraft` (entries, lot changes, new lots,
  balances), each step seeing the lots as the steps before it left them.
- Write: one core.sql.WritePlan of hand-written statements, one round trip on PostgreSQL with the audit row and
  the key's answer (core.usecase.write_last): the ledger's draft (ledger.write_draft), the effects, lines and
  purchase, the counters, the return row with its answer, the outbox events. A cancellation or a full return
  also gives back the codes (only when the load found some still redeemed) and the rewards the purchase used,
  and revokes stamp and sequence rewards no longer owed (the loaded counts with this return's change).

A return's shares are cumulative (core.arith.cumulative_share), so a full return reverses exactly everything
and nothing is reversed twice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.arith import apportion, cumulative_share
from vafa.core.errors import AlreadyDone, InvalidInput, NotFound
from vafa.core.reasons import Reason
from vafa.core.sql import WritePlan, read_all, row_of, set_columns
from vafa.core.usecase import run_use_case, write_last
from vafa.core.validation import check_amount
from vafa.ledger import services as ledger
from vafa.ledger import sql as ledger_sql
from vafa.ledger.giftcards import give_back_to_card
from vafa.ledger.maths import DraftLot, LedgerDraft, StoredLot
from vafa.ledger.selectors import CURRENCIES, load_parts
from vafa.ledger.services import keep_accounts, settle_due_lots
from vafa.members.locks import lock_statement, member_of
from vafa.members.models import Member
from vafa.outbox.services import batched, emit, into_plan
from vafa.program import cache
from vafa.program.engine import reconcile_rewards
from vafa.program.selectors import context_of, program_version
from vafa.purchases import counters
from vafa.purchases import sql as purchases_sql
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
    rewards: list[tuple] = field(default_factory=list)  # the member's not revoked: (id, key, status, used by, code)
    redeemed: int = 0  # the purchase's codes still redeemed
    counts: tuple[int, int] = (0, 0)  # the member's all-time purchases and visits, before this return
    return_id: int = 0  # the id the return's row will have, taken by the load


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


def _accounts(business_id: int, member_id: int, at: dt.datetime) -> tuple[str, list]:
    """The member's accounts (part 0) and the business's own (part 1), as one statement (ledger.selectors)."""
    own, business_side, _ = load_parts(business_id, member_id, at)
    return f"SELECT 0, {own[0]} UNION ALL SELECT 1, {business_side[0]}", [*own[1], *business_side[1]]


def _draft_lot(lot: StoredLot) -> DraftLot:
    return DraftLot(lot.id, lot.currency, lot.state, lot.amount, lot.remaining, lot.created_at, lot.expires_at,
                    lot.purchase_id)


def _ledger(member, at: dt.datetime, account_rows: list[tuple],
            lot_rows: list[tuple]) -> tuple[LedgerDraft, dict[str, list[tuple[DraftLot, int]]], bool]:
    """The ledger's side of the load: the accounts kept on the member for the write, the draft to decide in,
    what the spends took per currency (last taken first), and whether a live lot is due (ledger.maths)."""
    own = [row[1:] for row in account_rows if row[0] == 0]
    keep_accounts(member, own, [row[1:] for row in account_rows if row[0] == 1])
    live, spent = ledger_sql.reversal_lots_of(lot_rows)
    taken: dict[str, list[tuple[DraftLot, int]]] = defaultdict(list)
    for lot, amount in spent:
        taken[lot.currency].append((_draft_lot(lot), amount))
    held = {(currency, kind): balance for balance, _, currency, kind, *_ in own}
    return LedgerDraft([_draft_lot(lot) for lot in live], held), taken, any(lot.is_due(at) for lot in live)


def _load(business, member_id: int, purchase_id: int, request: ReturnRequest,
          at: dt.datetime) -> tuple[Member, cache.Setup, Loaded]:
    """The member's lock and every read the decision needs, in one round trip (core.sql.read_all; the reads
    wait for the lock, so they read what it guards): the accounts, the live lots and what the purchase's spends
    took, the purchase (locked), its effects, the member's rewards and, for a return by items, its lines."""
    accounts = _accounts(business.pk, member_id, at)
    lots = ledger_sql.reversal_lots(business.pk, member_id, purchase_id)
    locked, account_rows, lot_rows, purchase_rows, own_rows, *line_rows = read_all([
        lock_statement(member_id, business.pk, token=True), accounts, lots,
        *purchases_sql.reversal_reads(business.pk, member_id, purchase_id, REVERSIBLE,
                                      lines=bool(request.lines) and not request.cancel)])
    member = member_of(locked, token=True)
    setup = cache.setup_of(business, member.cache_token)
    if not purchase_rows:
        raise NotFound("purchase_not_found")
    (pk, receipt, total, discount, other_amount, returned_amount, spend, status, occurred_at, version, redeemed,
     purchases, visits, return_id) = purchase_rows[0]
    draft, taken, due = _ledger(member, at, account_rows, lot_rows)
    if due:  # rare: what is due by now is written down first (a job late), then the ledger read again
        settle_due_lots(member, at)
        draft, taken, _ = _ledger(member, at, *read_all([accounts, lots]))
    moment = purchases_sql.moment
    effects = [EffectView(e_pk, kind, rule_id, currency, amount, done, moment(when))
               for part, e_pk, kind, rule_id, currency, amount, done, when in own_rows if part == 0]
    rewards = [(r_pk, key, status, used, code) for part, r_pk, key, status, code, used, *_ in own_rows if part == 1]
    lines = [LineView(*row) for row in line_rows[0]] if line_rows else []
    spent = {e.currency for e in effects if e.kind == "spend" and e.currency != "gift_card"}
    expiry_days = {}
    if spent:
        document = (setup.document if setup.version.version == version
                    else program_version(business, version))
        expiry_days = {currency: document.settings.currency(currency).expiry_days for currency in spent}
    purchase = PurchaseView(pk, receipt, total, discount, other_amount, returned_amount, spend, status,
                            moment(occurred_at))
    # the counts are SUMs: numeric on PostgreSQL
    return member, setup, Loaded(purchase, lines, effects, draft, taken, expiry_days, business.currency,
                                 rewards, redeemed, (int(purchases), int(visits)), return_id)


def _write(business, member, loaded: Loaded, plan: ReturnPlan, reason: str, cancel: bool, at: dt.datetime,
           actor: Actor, setup: cache.Setup) -> dict:
    purchase = loaded.purchase
    row = Purchase(pk=purchase.id, business=business, member=member)  # what the rows written refer to
    if plan.gift_card:  # rare: through the ORM, before the plan
        for share, why in plan.gift_card:
            give_back_to_card(row, share, reason=why, at=at)
    writes = WritePlan()
    ledger.write_draft(member, plan.ledger, at=at, actor=actor, purchase=row, source="return", plan=writes)
    set_columns(writes, RewardEffect._meta.db_table, ("reversed_amount",), business.pk,
                {pk: (amount,) for pk, amount in plan.effects.items()})
    set_columns(writes, PurchaseLine._meta.db_table, ("returned_quantity",), business.pk,
                {pk: (quantity,) for pk, quantity in plan.line_quantities.items()})
    set_columns(writes, Purchase._meta.db_table, ("returned_amount", "spend", "status"), business.pk,
                {purchase.id: (plan.returned_amount, plan.spend, plan.status)})
    plan.changes.write(writes)
    for event_type, payload in plan.events:
        emit(business.pk, event_type, payload)
    if plan.given_back_uses:
        if loaded.redeemed:  # the codes can be used again
            rollback_for_purchase(business, purchase.id, at=at)
        _give_back_rewards(business, member, purchase.id, loaded, plan.changes, setup, at)  # and the rewards
    held = {currency: {"available": plan.ledger.balances.get((currency, "available"), 0),
                       "pending": plan.ledger.balances.get((currency, "pending"), 0)} for currency in CURRENCIES}
    result = {"purchase_id": purchase.id, "status": plan.status, "returned_amount": plan.part,
              "returned_total": plan.returned_amount, "previously_returned": purchase.returned_amount,
              "reversed": plan.reversed, "member_id": member.pk, "tier": member.tier or None, "balance": held}
    record = Return(pk=loaded.return_id, business=business, purchase=row, amount=plan.part,
                    lines=plan.returned_lines, cancellation=cancel, reason=(reason or "")[:300], created_at=at,
                    result=result, **actor.fields())
    writes.insert(Return, [row_of(record)], with_id=True)
    emit(business.pk, "purchase.returned" if not cancel else "purchase.cancelled",
         {"purchase_id": purchase.id, "member_id": member.pk, "amount": plan.part, "status": plan.status})
    into_plan(writes)
    write_last(writes)  # with the audit row and the key's answer (run_use_case): one round trip
    return {"id": record.pk, "return_id": record.pk} | result


def _give_back_rewards(business, member, purchase_id: int, loaded: Loaded, changes: counters.Changes,
                       setup: cache.Setup, at: dt.datetime) -> None:
    """A purchase no longer counted gives back the rewards it used, as it gives back its codes, and revokes the
    stamp and sequence rewards the counts no longer owe (they are exact, returns included): the member's live
    rewards and counts as loaded, the counts changed by this return's `changes`."""
    live = loaded.rewards
    given = [(pk, code) for pk, _, status, used, code in live
             if status == IssuedReward.Status.USED and used == purchase_id]
    if given:
        IssuedReward.objects.filter(business=business, pk__in=[pk for pk, _ in given]).update(
            status=IssuedReward.Status.ISSUED, used_at=None, used_purchase=None, used_branch="")
    for pk, code in given:
        emit(business.pk, "reward.returned", {"member_id": member.pk, "reward_id": pk, "reward_code": code,
                                              "purchase_id": purchase_id})
    document = setup.document
    rules = [rule for rule in document.rules if rule.kind in ("stamp", "sequence")]
    if not rules:
        return
    purchases, visits = loaded.counts
    purchases += changes.total(member.pk, counters.PURCHASES)
    _, revoke = reconcile_rewards(document, purchases, visits, frozenset(key for _, key, *_ in live),
                                  context_of(business), rules)
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
    member_id = purchases_sql.member_of_purchase(business.pk, purchase_id)
    if member_id is None:
        raise NotFound("purchase_not_found")
    request = {"purchase_id": purchase_id, "amount": amount, "lines": lines, "cancel": _cancel, "reason": reason}
    asked = ReturnRequest(amount, lines, _cancel)

    def use_case() -> dict:
        when = at or timezone.now()
        with batched():
            member, setup, loaded = _load(business, member_id, purchase_id, asked, when)
            plan = decide(loaded, asked, member.pk, business.pk, when)
            return _write(business, member, loaded, plan, reason, _cancel, when, actor, setup)

    result, replayed = run_use_case(business, "return", request, use_case, actor=actor, key=idempotency_key,
                                    object_type="purchase", object_id="purchase_id")
    return {"id": result["return_id"]} | result | {"replayed": replayed}  # answers stored before `id` lacked it


def cancel_purchase(business, purchase_id: int, *, reason: str = "", idempotency_key: str | None = None,
                    actor: Actor = SYSTEM, at: dt.datetime | None = None) -> dict:
    """Reverse a purchase completely: everything not yet returned."""
    return return_purchase(business, purchase_id, reason=reason, idempotency_key=idempotency_key, actor=actor,
                           at=at, _cancel=True)
