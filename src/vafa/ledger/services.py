"""The only code that writes ledger rows. Every function here runs inside the caller's transaction and expects
the caller to hold the member's lock (members.services.lock_member), which serialises a member's writes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Value, When
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.errors import Conflict, InsufficientBalance
from vafa.core.reasons import Reason, reason_fields
from vafa.core.sql import WritePlan, row_of
from vafa.core.validation import MAX_BALANCE
from vafa.ledger import maths
from vafa.ledger import sql as ledger_sql
from vafa.ledger.maths import (
    DraftLot,
    LedgerDraft,
    LotView,
    RestrictedLot,
    allocate,
    lot_share_of_credit,
)
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.ledger.selectors import due_lots
from vafa.outbox.services import emit
from vafa.tenancy.models import Business

AVAILABLE = Account.Kind.AVAILABLE
PENDING = Account.Kind.PENDING


def member_account(member, currency: str, kind: str = AVAILABLE) -> Account:
    """The member's account, read once per use case: kept on the member object, which lock_member loads afresh
    for every use case (and which is thrown away with it when the transaction rolls back)."""
    accounts = member.__dict__.setdefault("_vafa_accounts", {})
    key = (currency, kind)
    if key not in accounts:
        code = f"m:{member.pk}:{currency}:{kind}"
        if member.__dict__.get("_vafa_accounts_read"):  # every account was read (keep_accounts): this one is new
            pk, balance = ledger_sql.open_account(member.business_id, member.pk, currency, kind, code)
            accounts[key] = _account(pk, member.business_id, member.pk, currency, kind, code, balance)
        else:
            accounts[key], _ = Account.objects.get_or_create(
                business_id=member.business_id, code=code,
                defaults={"member": member, "currency": currency, "kind": kind},
            )
    return accounts[key]


# (business id, currency, kind) → account id. Business accounts are never deleted, and an id enters the cache
# only once the transaction that read or made it has committed, so a cached id always exists.
_business_accounts: dict[tuple[int, str, str], int] = {}


def business_account(business_id: int, currency: str, kind: str) -> Account:
    """The business side of an entry. Only its id is needed: business balances are not cached (see _post)."""
    key = (business_id, currency, kind)
    cached = _business_accounts.get(key)
    if cached is not None:
        return Account(pk=cached, business_id=business_id, currency=currency, kind=kind, code=f"b:{currency}:{kind}")
    account, _ = Account.objects.get_or_create(
        business_id=business_id, code=f"b:{currency}:{kind}", defaults={"currency": currency, "kind": kind},
    )
    transaction.on_commit(lambda: _business_accounts.setdefault(key, account.pk))
    return account


def load_accounts(member) -> None:
    """Every account of the member, and the business's own, in one query at the start of a use case, kept on
    the member object where member_account and _business_side look first."""
    load_accounts_of([member])


def load_accounts_of(members: list) -> None:
    """load_accounts for several members of one business, in one query."""
    if not members:
        return
    business_id = members[0].business_id
    by_id = {member.pk: member.__dict__.setdefault("_vafa_accounts", {}) for member in members}
    own = Account.objects.filter(business_id=business_id, member_id__in=list(by_id))
    business_side = Account.objects.filter(business_id=business_id, member__isnull=True)
    for member in members:
        member.__dict__["_vafa_accounts_read"] = True
    for account in own.union(business_side, all=True):  # each part on account_member_idx (an OR is not)
        if account.member_id:
            by_id[account.member_id][(account.currency, account.kind)] = account
        else:
            for accounts in by_id.values():
                accounts[("b", account.currency, account.kind)] = account


def keep_accounts(member, own: list[tuple], business_side: list[tuple]) -> None:
    """The member's accounts and the business's own, read by a use case's load (selectors.load_parts), kept on
    the member object where member_account and _business_side look first."""
    accounts = member.__dict__.setdefault("_vafa_accounts", {})
    member.__dict__["_vafa_accounts_read"] = True
    for rows, owner, prefix in ((own, member.pk, f"m:{member.pk}"), (business_side, None, "b")):
        for balance, pk, currency, kind, *_ in rows:
            accounts[(currency, kind) if owner else ("b", currency, kind)] = _account(
                pk, member.business_id, owner, currency, kind, f"{prefix}:{currency}:{kind}", balance)


def _account(pk: int, business_id: int, member_id: int | None, currency: str, kind: str, code: str,
             balance: int) -> Account:
    """An Account from its columns, positionally (in the model's field order): the ORM's fast way to build one,
    half the cost of keywords on the hot path."""
    return Account(pk, business_id, member_id, currency, kind, code, balance)


def _business_side(member, currency: str, kind: str) -> Account:
    loaded = member.__dict__.get("_vafa_accounts", {}).get(("b", currency, kind))
    return loaded if loaded is not None else business_account(member.business_id, currency, kind)


def _post(member, *, kind: str, currency: str, amount: int, debit: Account, credit: Account, reason: Reason | str,
          at: dt.datetime, actor: Actor, purchase=None, source: str = "", rule_id: str = "",
          program_version: int | None = None) -> Entry:
    """One entry, and the member side's cached balance. The business side (issued, redeemed, expired …) is
    not cached: every purchase of a business would otherwise update, and so lock until commit, the same row,
    and purchases at different tills would wait on each other. Its balance is the sum of its entries
    (check_ledger, reports)."""
    entry = Entry.objects.create(
        business_id=member.business_id, member=member, kind=kind, currency=currency, amount=amount,
        debit=debit, credit=credit, purchase=purchase, source=source, rule_id=rule_id,
        program_version=program_version, reason=reason, created_at=at, **actor.fields(),
    )
    for account, change in ((debit, -amount), (credit, amount)):
        if account.member_id is not None:
            Account.objects.filter(pk=account.pk).update(balance=F("balance") + change)
            account.balance += change
    return entry


def _move(entry: Entry, lot: Lot, amount: int) -> None:
    LotMovement.objects.create(business_id=entry.business_id, entry=entry, lot=lot, amount=amount)


@dataclass(frozen=True)
class CreditLine:
    """One credit of credit_many: an amount of a currency, with its reason and the lot's terms."""

    currency: str
    amount: int
    reason: Reason | str
    kind: str = Entry.Kind.EARN
    from_kind: str = Account.Kind.ISSUED
    rule_id: str = ""
    expires_at: dt.datetime | None = None
    pending_until: dt.datetime | None = None
    restrictions: dict | None = None


def credit(member, currency: str, amount: int, *, kind: str = Entry.Kind.EARN, reason: Reason | str,
           from_kind: str = Account.Kind.ISSUED, at: dt.datetime | None = None, actor: Actor = SYSTEM,
           purchase=None, source: str = "", rule_id: str = "", program_version: int | None = None,
           expires_at: dt.datetime | None = None, pending_until: dt.datetime | None = None,
           restrictions: dict | None = None) -> Entry:
    """Add to a member's balance as a new lot; pending until `pending_until` when the return window applies."""
    line = CreditLine(currency, amount, reason, kind, from_kind, rule_id, expires_at, pending_until, restrictions)
    return credit_many(member, [line], at=at, actor=actor, purchase=purchase, source=source,
                       program_version=program_version)[0]


def credit_many(member, lines: list[CreditLine], *, at: dt.datetime | None = None, actor: Actor = SYSTEM,
                purchase=None, source: str = "", program_version: int | None = None,
                plan: WritePlan | None = None) -> list[Entry]:
    """Several credits in one go, in order, as if made one after another: one multi-row insert each for the
    entries, the lots and their movements, and one UPDATE for the member's balances (ledger.sql). Each credit is
    a new lot, pending until its `pending_until`; a debt (after a claw-back) is repaid first. With `plan` the
    rows join the caller's write plan, written with it (answers []); without, they are written now."""
    at = at or timezone.now()
    running: dict[int, int] = {}  # account id → its balance as the credits before this one left it
    targets: dict[int, Account] = {}
    entries, lots, opened_amounts = [], [], []
    purchase_id = purchase.pk if purchase is not None else None
    for line in lines:
        pending = line.pending_until is not None and line.pending_until > at
        target = member_account(member, line.currency, PENDING if pending else AVAILABLE)
        targets[target.pk] = target
        balance_before = running.get(target.pk, target.balance)
        if balance_before + line.amount > MAX_BALANCE:
            raise Conflict("balance_limit", currency=line.currency, limit=MAX_BALANCE)
        running[target.pk] = balance_before + line.amount
        entries.append({
            "business_id": member.business_id, "member_id": member.pk, "kind": line.kind, "currency": line.currency,
            "amount": line.amount, "debit_id": _business_side(member, line.currency, line.from_kind).pk,
            "credit_id": target.pk, "purchase_id": purchase_id, "source": source, "rule_id": line.rule_id,
            "program_version": program_version, "created_at": at, **reason_fields(line.reason), **actor.fields()})
        opened = line.amount if pending else lot_share_of_credit(balance_before, line.amount)
        lots.append({"business_id": member.business_id, "member_id": member.pk, "currency": line.currency,
                     "state": Lot.State.PENDING if pending else (Lot.State.OPEN if opened else Lot.State.CLOSED),
                     "amount": line.amount, "remaining": opened, "created_at": at,
                     "available_at": line.pending_until if pending else None, "expires_at": line.expires_at,
                     "restrictions": line.restrictions or {}, "purchase_id": purchase_id})
        opened_amounts.append(opened)
    if not entries:
        return []
    changes = {pk: balance - targets[pk].balance for pk, balance in running.items()}
    now = plan is None
    plan = WritePlan() if plan is None else plan
    ids = ledger_sql.add_credits(plan, member.business_id, entries, lots, opened_amounts, changes)
    for pk, balance in running.items():
        targets[pk].balance = balance
    if not now:
        return []
    plan.write()
    return [Entry(pk=pk, **row) for pk, row in zip(ids(), entries, strict=True)]


def _add_to_balances(changes: dict[int, int]) -> None:
    """Member account balances raised by their changes, in one UPDATE (ids in order, as every writer locks)."""
    if len(changes) == 1:
        [(pk, change)] = changes.items()
        Account.objects.filter(pk=pk).update(balance=F("balance") + change)
    elif changes:
        Account.objects.filter(pk__in=sorted(changes)).update(balance=F("balance") + Case(
            *(When(pk=pk, then=Value(change)) for pk, change in sorted(changes.items())),
            output_field=BigIntegerField()))


def _open_lots(member, currency: str, at: dt.datetime,
               eligible: Callable[[Lot], bool] | None = None) -> list[Lot]:
    """The lots a spend at `at` may take: what is due by then is written down first (settle_due_lots)."""
    settle_due_lots(member, at)
    lots = list(Lot.objects.filter(business_id=member.business_id, member=member, currency=currency,
                                   state=Lot.State.OPEN, remaining__gt=0))
    return [lot for lot in lots if eligible is None or eligible(lot)]


def _take_from_lots(entry: Entry, lots: list[Lot], amount: int, allow_shortfall: bool) -> int:
    views = [LotView(lot.pk, lot.remaining, lot.expires_at, lot.created_at) for lot in lots]
    takes, shortfall = allocate(views, amount, allow_shortfall)
    _apply_takes(entry, lots, takes)
    return shortfall


def _apply_takes(entry: Entry, lots: list[Lot], takes: list[tuple[int, int]]) -> None:
    by_id = {lot.pk: lot for lot in lots}
    for lot_id, take in takes:
        lot = by_id[lot_id]
        lot.remaining -= take
        if lot.remaining == 0:
            lot.state = Lot.State.CLOSED
        lot.save(update_fields=["remaining", "state"])
        _move(entry, lot, -take)


def spendable(member, currency: str, eligible: Callable[[Lot], bool] | None = None,
              at: dt.datetime | None = None) -> int:
    """What the member can spend at `at` (now), after settle_due_lots: under the member's lock, inside the use
    case's transaction (a dry run's is rolled back, so it writes nothing)."""
    at = at or timezone.now()
    if eligible is None:
        settle_due_lots(member, at)
        balance = (Account.objects.filter(business_id=member.business_id, code=f"m:{member.pk}:{currency}:{AVAILABLE}")
                   .values_list("balance", flat=True).first())
        return max(balance or 0, 0)
    return sum(lot.remaining for lot in _open_lots(member, currency, at, eligible))


def debit(member, currency: str, amount: int, *, kind: str = Entry.Kind.SPEND, reason: Reason | str,
          to_kind: str = Account.Kind.REDEEMED, at: dt.datetime | None = None, actor: Actor = SYSTEM,
          purchase=None, source: str = "", rule_id: str = "", program_version: int | None = None,
          eligible: Callable[[Lot], bool] | None = None, plan: list[tuple[int, int]] | None = None) -> Entry:
    """Take from a member's available balance, lots expiring first (or by a `plan` of (lot id, amount) that
    restricted credit was allocated with). Never below zero."""
    at = at or timezone.now()
    lots = _open_lots(member, currency, at, eligible)
    if plan is not None:
        wanted = dict(plan)
        lots = [lot for lot in lots if lot.pk in wanted and lot.remaining >= wanted[lot.pk]]
        if sum(wanted[lot.pk] for lot in lots) != amount or len(lots) != len(wanted):
            raise InsufficientBalance("insufficient_balance", currency=currency, needed=amount, available=0)
    available = sum(lot.remaining for lot in lots)
    if amount > available:
        raise InsufficientBalance("insufficient_balance", currency=currency, needed=amount, available=available)
    entry = _post(member, kind=kind, currency=currency, amount=amount,
                  debit=member_account(member, currency), credit=_business_side(member, currency, to_kind),
                  reason=reason, at=at, actor=actor, purchase=purchase, source=source, rule_id=rule_id,
                  program_version=program_version)
    if plan is not None:
        _apply_takes(entry, lots, plan)
    else:
        _take_from_lots(entry, lots, amount, allow_shortfall=False)
    return entry


def restricted_lots(member, at: dt.datetime, currency: str = "gift_credit") -> list[RestrictedLot]:
    """The member's lots spendable at `at`, with their restrictions, for allocate_restricted."""
    return [RestrictedLot(lot.pk, lot.remaining, lot.expires_at, lot.created_at,
                          frozenset(lot.restrictions.get("categories") or ()),
                          frozenset(lot.restrictions.get("branches") or ()))
            for lot in _open_lots(member, currency, at)]


# --- reversals: load → decide (maths.LedgerDraft) → write ----------------------------------------------------


def reversal_draft(member, at: dt.datetime, *, purchase_id: int | None = None,
                   spend_entries: list[Entry] | None = None,
                   live: bool = True) -> tuple[LedgerDraft, dict[str, list[tuple[DraftLot, int]]]]:
    """Load what a reversal decides on, under the member's lock: the member's accounts (one query), with
    `live` their pending and open lots once what is due by `at` is written down (one query), and what the
    spends took, per currency, last taken first (one query): those of the purchase `purchase_id`, or the
    `spend_entries`. Answers the draft to decide in, and what was taken."""
    load_accounts(member)
    lots = _live_lots(member, at) if live else []
    taken: dict[str, list[tuple[DraftLot, int]]] = defaultdict(list)
    if purchase_id is not None or spend_entries:
        movements = LotMovement.objects.filter(business_id=member.business_id, entry__business_id=member.business_id,
                                               lot__business_id=member.business_id, amount__lt=0).select_related("lot")
        movements = (movements.filter(entry__purchase_id=purchase_id, entry__kind=Entry.Kind.SPEND)
                     if spend_entries is None else movements.filter(entry__in=spend_entries))
        # last taken, first restored: the reverse of the spend's expiry-first order, the same on every database
        for movement in movements.order_by("-id"):
            taken[movement.lot.currency].append((_draft_lot(movement.lot), -movement.amount))
    held = {key: account.balance for key, account in member.__dict__["_vafa_accounts"].items() if len(key) == 2}
    return LedgerDraft([_draft_lot(lot) for lot in lots], held), taken


def _draft_lot(lot: Lot) -> DraftLot:
    return DraftLot(lot.pk, lot.currency, lot.state, lot.amount, lot.remaining, lot.created_at, lot.expires_at,
                    lot.purchase_id)


def _live_lots(member, at: dt.datetime) -> list[Lot]:
    """The member's pending and open lots, once what is due by `at` is written down: one query, and the
    write-down itself (settle_due_lots, then the lots read again) only when something is due."""
    lots = Lot.objects.filter(business_id=member.business_id, member=member, state__in=(Lot.State.PENDING,
                                                                                         Lot.State.OPEN))
    loaded = list(lots)
    if any(_is_due(lot, at) for lot in loaded):
        settle_due_lots(member, at)
        return list(lots.all())  # read again (`lots` holds what it read)
    settled_to = member.__dict__.get("_vafa_settled_to")
    member.__dict__["_vafa_settled_to"] = at if settled_to is None else max(settled_to, at)
    return loaded


def _is_due(lot: Lot, at: dt.datetime) -> bool:
    """What selectors.due_lots finds: released by now, or expired by now."""
    if lot.state == Lot.State.PENDING:
        return lot.available_at is not None and lot.available_at <= at
    return lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= at


def write_draft(member, draft: LedgerDraft, *, at: dt.datetime, actor: Actor = SYSTEM, purchase=None,
                source: str = "", plan: WritePlan | None = None) -> list[Entry]:
    """A decided reversal as hand-written SQL (ledger.sql.add_draft): into the caller's `plan`, written with its
    other rows (the entries answered have no ids then), or written at once in a plan of its own."""
    entries, changes, accounts = [], defaultdict(int), {}
    for planned in draft.entries:
        mine = member_account(member, planned.currency, planned.member_kind)
        theirs = _business_side(member, planned.currency, planned.business_kind)
        accounts[mine.pk] = mine
        changes[mine.pk] += planned.amount if planned.to_member else -planned.amount
        entries.append(Entry(business_id=member.business_id, member=member, kind=Entry.Kind.REVERSE,
                             currency=planned.currency, amount=planned.amount,
                             debit=theirs if planned.to_member else mine, credit=mine if planned.to_member else theirs,
                             purchase=purchase, source=source, rule_id=planned.rule_id, reason=planned.reason,
                             created_at=at, **actor.fields()))
    if not entries:
        return []
    entry_of = {id(planned): i for i, planned in enumerate(draft.entries)}
    lot_of = {id(lot): j for j, (lot, _) in enumerate(draft.opened)}
    lots = [(row_of(Lot(business_id=member.business_id, member=member, currency=lot.currency, state=lot.state,
                        amount=lot.amount, remaining=lot.remaining, created_at=lot.created_at,
                        expires_at=lot.expires_at, purchase=purchase)), entry_of[id(planned)])
            for lot, planned in draft.opened]
    moves = [(entry_of[id(planned)], lot.id, lot_of[id(lot)] if lot.id is None else None, amount)
             for planned in draft.entries for lot, amount in planned.moves]
    lot_changes = {lot.id: (lot.remaining, lot.state) for lot in draft.lots.values()
                   if lot.changed and lot.id is not None}
    own = WritePlan() if plan is None else None
    ids = ledger_sql.add_draft(own or plan, member.business_id, [row_of(entry) for entry in entries], lots, moves,
                               lot_changes, dict(changes))
    if own is not None:
        own.write()
        for entry, pk in zip(entries, ids(), strict=True):
            entry.pk = pk
    for pk, change in changes.items():
        accounts[pk].balance += change
    return entries


def give_back(member, currency: str, amount: int, *, spend_entries: list[Entry], reason: Reason | str,
              fallback_expires_at: dt.datetime | None, at: dt.datetime | None = None, actor: Actor = SYSTEM,
              purchase=None, source: str = "") -> Entry:
    """Return spent credit (a refund): back into the lots the spend took while they have not expired, else
    into a new lot; a debt is repaid first (maths.LedgerDraft.give_back)."""
    at = at or timezone.now()
    draft, taken = reversal_draft(member, at, spend_entries=spend_entries, live=False)
    draft.give_back(currency, amount, taken[currency], reason, at, fallback_expires_at,
                    purchase.pk if purchase is not None else None)
    return write_draft(member, draft, at=at, actor=actor, purchase=purchase, source=source)[0]


def settle_due_lots(member, at: dt.datetime) -> int:
    """Write down what has already happened to the member's lots by `at`: pending lots past their release time
    are released, then open lots past their expiry (a just-released one too) expire — the entries
    release_pending and expire_lots would write, dated when each happened. Every spend calls it first under the
    member's lock, so a lot is unspendable from the minute it expires and spendable from the minute it is
    released, whenever the jobs run; the reads count the same in without writing (selectors.members_balances).
    Answers how many lots changed. Once per use case: remembered on the locked member object."""
    settled_to = member.__dict__.get("_vafa_settled_to")
    if settled_to is not None and settled_to >= at:
        return 0
    changed = settle_lots([member], at)
    member.__dict__["_vafa_settled_to"] = at
    return changed


def settle_lots(members: list, at: dt.datetime, *, release: bool = True, expire: bool = True) -> int:
    """Write down the due lots of several members of one business, whose locks the caller holds: with `release`
    the pending lots past their release time, with `expire` the open lots past their expiry (maths.settle
    decides, per member and currency). Load: the due lots in one query; write: one insert each for the entries
    and the lot movements, an UPDATE or two for the lots and one for the balances, and the outbox events. Answers how
    many lots changed (released or expired)."""
    if not members or not (release or expire):
        return 0
    business_id = members[0].business_id
    by_id = {member.pk: member for member in members}
    due = due_lots(business_id, list(by_id), at)
    if not release:
        due = due.filter(state=Lot.State.OPEN)
    elif not expire:
        due = due.filter(state=Lot.State.PENDING)
    lots = {lot.pk: lot for lot in due.order_by("id")}
    if not lots:
        return 0
    before = {pk: lot.remaining for pk, lot in lots.items()}
    grouped: dict[tuple[int, str], list[maths.DueLot]] = defaultdict(list)
    for lot in lots.values():
        grouped[lot.member_id, lot.currency].append(
            maths.DueLot(lot.pk, lot.state == Lot.State.PENDING, lot.remaining, lot.available_at, lot.expires_at))
    load_accounts_of([by_id[pk] for pk in {pk for pk, _ in grouped} if "_vafa_accounts" not in by_id[pk].__dict__])
    _open_available_accounts([(by_id[member_id], currency) for member_id, currency in grouped])
    money = Business.objects.filter(pk=business_id).values_list("currency", flat=True).get()
    entries: list[Entry] = []
    moves: list[tuple[Entry, Lot, int]] = []
    changes: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    expired: list[tuple] = []
    for (member_id, currency), due_here in sorted(grouped.items()):
        member = by_id[member_id]
        available = member_account(member, currency)
        for step in maths.settle(available.balance + changes[available.pk], due_here, at, expire=expire):
            lot = lots[step.lot.id]
            lot.remaining, lot.state = step.remaining, Lot.State.OPEN if step.remaining else Lot.State.CLOSED
            if not step.amount:
                continue
            if step.kind == maths.RELEASE:
                debit, credit = member_account(member, currency, PENDING), available
            else:
                debit, credit = available, _business_side(member, currency, Account.Kind.EXPIRED)
                expired.append((member, lot, step.amount))
            entry = Entry(business_id=business_id, member=member, kind=step.kind, currency=currency,
                          amount=step.amount, debit=debit, credit=credit, purchase_id=lot.purchase_id,
                          source=f"job:{step.kind}", reason=Reason(f"ledger.{step.kind}", {
                              "amount": step.amount, "currency": currency, "money": money}),
                          created_at=step.at, **SYSTEM.fields())
            entries.append(entry)
            for account, change in ((debit, -step.amount), (credit, step.amount)):
                if account.member_id is not None:
                    accounts[account.pk] = account
                    changes[account.pk] += change
            # what leaves the lot: all of it when it expires; the part that repaid a debt when it is released
            if step.kind == maths.EXPIRE or step.remaining != step.amount:
                moves.append((entry, lot, -step.amount if step.kind == maths.EXPIRE else step.remaining - step.amount))
    Entry.objects.bulk_create(entries)
    _update_lots(business_id, list(lots.values()), before)
    LotMovement.objects.bulk_create([LotMovement(business_id=business_id, entry=entry, lot=lot, amount=amount)
                                     for entry, lot, amount in moves])
    _add_to_balances({pk: change for pk, change in changes.items() if change})
    for pk, change in changes.items():
        accounts[pk].balance += change
    for member, lot, amount in expired:
        emit(business_id, f"{lot.currency}.expired" if lot.currency == "points" else "credit.expired",
             {"member_id": member.pk, "currency": lot.currency, "amount": amount, "lot_id": lot.pk})
    return len(entries)


def _open_available_accounts(wanted: list[tuple]) -> None:
    """The members' available accounts in these currencies, made in one insert where a member has none yet (a
    member whose first earning is still pending has only the pending one). Under the members' locks."""
    missing = [Account(business_id=member.business_id, member=member, currency=currency, kind=AVAILABLE,
                       code=f"m:{member.pk}:{currency}:{AVAILABLE}")
               for member, currency in wanted if (currency, AVAILABLE) not in member.__dict__["_vafa_accounts"]]
    Account.objects.bulk_create(missing)
    for account in missing:
        account.member.__dict__["_vafa_accounts"][(account.currency, AVAILABLE)] = account


def _update_lots(business_id: int, lots: list[Lot], remaining_before: dict[int, int]) -> None:
    """The lots' new state and remaining in an UPDATE per distinct change: released lots keep their remaining
    and only open (one statement), written-off lots close at zero (one more); a release that repaid part of a
    debt, the only other kind, is rare."""
    changes: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for lot in lots:
        kept = lot.remaining == remaining_before[lot.pk]
        changes[lot.state, None if kept else lot.remaining].append(lot.pk)
    for (state, remaining), ids in sorted(changes.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
        fields = {"state": state} if remaining is None else {"state": state, "remaining": remaining}
        Lot.objects.filter(business_id=business_id, pk__in=ids).update(**fields)


