"""The only code that writes ledger rows. Every function here runs inside the caller's transaction and expects
the caller to hold the member's lock (members.services.lock_member), which serialises a member's writes."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.errors import Conflict, InsufficientBalance
from vafa.core.reasons import Reason, reason_fields
from vafa.core.rows import made
from vafa.core.sql import WritePlan, row_of
from vafa.core.validation import MAX_BALANCE
from vafa.ledger import maths
from vafa.ledger import sql as ledger_sql
from vafa.ledger.maths import (
    DraftLot,
    LedgerDraft,
    LotView,
    RestrictedLot,
    StoredLot,
    allocate,
    lot_share_of_credit,
)
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.outbox.services import emit
from vafa.tenancy.cache import business_of

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
    """The business side of an entry. Only its id is needed: business balances are not cached (see _Writes)."""
    key = (business_id, currency, kind)
    cached = _business_accounts.get(key)
    if cached is not None:
        return _account(cached, business_id, None, currency, kind, f"b:{currency}:{kind}", 0)
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
    """An Account from its columns, positionally (in the model's field order), as core.rows makes a row's
    instance: a fraction of the cost of keywords on the hot path."""
    return made(Account, (pk, business_id, member_id, currency, kind, code, balance))


def _business_side(member, currency: str, kind: str) -> Account:
    loaded = member.__dict__.get("_vafa_accounts", {}).get(("b", currency, kind))
    return loaded if loaded is not None else business_account(member.business_id, currency, kind)


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
    business_id, member_id = member.business_id, member.pk
    for line in lines:
        pending = line.pending_until is not None and line.pending_until > at
        target = member_account(member, line.currency, PENDING if pending else AVAILABLE)
        target_id = target.pk
        targets[target_id] = target
        balance_before = running.get(target_id, target.balance)
        if balance_before + line.amount > MAX_BALANCE:
            raise Conflict("balance_limit", currency=line.currency, limit=MAX_BALANCE)
        running[target_id] = balance_before + line.amount
        entries.append({
            "business_id": business_id, "member_id": member_id, "kind": line.kind, "currency": line.currency,
            "amount": line.amount, "debit_id": _business_side(member, line.currency, line.from_kind).pk,
            "credit_id": target_id, "purchase_id": purchase_id, "source": source, "rule_id": line.rule_id,
            "program_version": program_version, "created_at": at, **reason_fields(line.reason), **actor.fields()})
        opened = line.amount if pending else lot_share_of_credit(balance_before, line.amount)
        lots.append({"business_id": business_id, "member_id": member_id, "currency": line.currency,
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
    ids = ledger_sql.add_credits(plan, business_id, entries, lots, opened_amounts, changes)
    for pk, balance in running.items():
        targets[pk].balance = balance
    if not now:
        return []
    plan.write()
    return [Entry(pk=pk, **row) for pk, row in zip(ids(), entries, strict=True)]


# --- spends and write-downs: load (ledger.sql.read_lots) → decide (maths) → write (one WritePlan) ---------------


@dataclass
class _Writes:
    """The ledger rows a spend or a write-down decided, for ledger.sql.add_draft: entries (rows), their lot
    movements (entry index, lot id, None, amount), the lots' new (remaining, state), and the member accounts'
    balance changes that are never refused (a write-down's: what happened has happened). The business side of
    an entry (issued, redeemed, expired …) is not cached: every purchase of a business would otherwise update,
    and so lock until commit, the same row, and purchases at different tills would wait on each other. Its
    balance is the sum of its entries (check_ledger, reports)."""

    entries: list[dict] = field(default_factory=list)
    moves: list[tuple[int, int | None, int | None, int]] = field(default_factory=list)
    lots: dict[int, tuple[int, str]] = field(default_factory=dict)
    changes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    accounts: dict[int, Account] = field(default_factory=dict)
    expired: list[tuple[int, StoredLot, int]] = field(default_factory=list)  # (member id, lot, amount)

    def entry(self, member, *, kind: str, currency: str, amount: int, debit: Account, credit: Account,
              reason: Reason | str, at: dt.datetime, actor: Actor, purchase_id: int | None, source: str,
              rule_id: str = "", program_version: int | None = None, counted: bool = True) -> int:
        """An entry, and (with `counted`) its member side's balance change among the `changes`; answers its
        index."""
        self.entries.append({
            "business_id": member.business_id, "member_id": member.pk, "kind": kind, "currency": currency,
            "amount": amount, "debit_id": debit.pk, "credit_id": credit.pk, "purchase_id": purchase_id,
            "source": source, "rule_id": rule_id, "program_version": program_version, "created_at": at,
            **reason_fields(reason), **actor.fields()})
        for account, change in ((debit, -amount), (credit, amount)):
            if account.member_id is not None:
                self.accounts[account.pk] = account
                if counted:
                    self.changes[account.pk] += change
        return len(self.entries) - 1

    def write(self, business_id: int, covered: dict[int, int] | None = None) -> list[int]:
        """Everything in one plan (one round trip on PostgreSQL), with `covered` balance changes that apply only
        while the balance covers them (InsufficientBalance otherwise: no balance goes below zero, whatever runs
        at the same time). Answers the entries' ids; the accounts' balances change in memory too."""
        plan = WritePlan()
        ids = ledger_sql.add_draft(plan, business_id, self.entries, [], self.moves, self.lots, dict(self.changes))
        ledger_sql.add_balances(plan, business_id, covered or {})
        plan.write()
        for pk, change in [*self.changes.items(), *(covered or {}).items()]:
            self.accounts[pk].balance += change
        for member_id, lot, amount in self.expired:
            emit(business_id, f"{lot.currency}.expired" if lot.currency == "points" else "credit.expired",
                 {"member_id": member_id, "currency": lot.currency, "amount": amount, "lot_id": lot.id})
        return ids()


def _spend_load(member, currency: str, at: dt.datetime) -> tuple[list[StoredLot], _Writes]:
    """A spend's load and the first half of its decision: the member's open lots of `currency` and, unless this
    use case wrote them down already, every lot of theirs due by `at`, in one statement (ledger.sql.read_lots);
    the due ones written down in memory (a lot is unspendable from the minute it expires and spendable from the
    minute it is released, whenever the jobs run). Answers the lots the spend may take, as the write-down
    leaves them, and the write-down's rows, written with the spend."""
    settled_to = member.__dict__.get("_vafa_settled_to")
    settled = settled_to is not None and settled_to >= at
    lots = ledger_sql.read_lots(member.business_id, [member.pk], at, release=not settled, expire=not settled,
                                open_in=currency)
    writes = _Writes()
    _write_down({member.pk: member}, [] if settled else lots, at, writes)
    spendable_lots = []
    for lot in lots:
        remaining, state = writes.lots.get(lot.id, (lot.remaining, lot.state))
        if lot.currency == currency and state == Lot.State.OPEN and remaining > 0:
            spendable_lots.append(replace(lot, state=state, remaining=remaining))
    return spendable_lots, writes


def spendable(member, currency: str, at: dt.datetime | None = None) -> int:
    """What the member can spend at `at` (now), after settle_due_lots: under the member's lock, inside the use
    case's transaction (a dry run's is rolled back, so it writes nothing)."""
    at = at or timezone.now()
    settle_due_lots(member, at)
    balance = (Account.objects.filter(business_id=member.business_id, code=f"m:{member.pk}:{currency}:{AVAILABLE}")
               .values_list("balance", flat=True).first())
    return max(balance or 0, 0)


def debit(member, currency: str, amount: int, *, kind: str = Entry.Kind.SPEND, reason: Reason | str,
          to_kind: str = Account.Kind.REDEEMED, at: dt.datetime | None = None, actor: Actor = SYSTEM,
          purchase=None, source: str = "", rule_id: str = "", program_version: int | None = None,
          plan: list[tuple[int, int]] | None = None) -> Entry:
    """Take from a member's available balance, lots expiring first (or by a `plan` of (lot id, amount) that
    restricted credit was allocated with). Never below zero. Load: the lots (_spend_load); decide: what is due
    written down, the allocation (maths.allocate); write: one plan, the balance's UPDATE conditional."""
    at = at or timezone.now()
    lots, writes = _spend_load(member, currency, at)
    if plan is not None:
        wanted = dict(plan)
        lots = [lot for lot in lots if lot.id in wanted and lot.remaining >= wanted[lot.id]]
        if sum(wanted[lot.id] for lot in lots) != amount or len(lots) != len(wanted):
            raise InsufficientBalance("insufficient_balance", currency=currency, needed=amount, available=0)
        takes = plan
    else:
        available = sum(lot.remaining for lot in lots)
        if amount > available:
            raise InsufficientBalance("insufficient_balance", currency=currency, needed=amount, available=available)
        takes, _ = allocate([LotView(lot.id, lot.remaining, lot.expires_at, lot.created_at) for lot in lots], amount)
    mine = member_account(member, currency)
    index = writes.entry(member, kind=kind, currency=currency, amount=amount, debit=mine,
                         credit=_business_side(member, currency, to_kind), reason=reason, at=at, actor=actor,
                         purchase_id=purchase.pk if purchase is not None else None, source=source, rule_id=rule_id,
                         program_version=program_version, counted=False)
    left = {lot.id: lot.remaining for lot in lots}
    for lot_id, take in takes:
        left[lot_id] -= take
        writes.lots[lot_id] = (left[lot_id], Lot.State.OPEN if left[lot_id] else Lot.State.CLOSED)
        writes.moves.append((index, lot_id, None, -take))
    ids = writes.write(member.business_id, covered={mine.pk: -amount})
    member.__dict__["_vafa_settled_to"] = max(member.__dict__.get("_vafa_settled_to") or at, at)  # settle_due_lots
    return Entry(pk=ids[index], **writes.entries[index])


def restricted_lots(member, at: dt.datetime, currency: str = "gift_credit") -> list[RestrictedLot]:
    """The member's lots spendable at `at`, with their restrictions, for allocate_restricted: what is due by
    then counted in as the spend that follows writes it down (nothing written here)."""
    lots, _ = _spend_load(member, currency, at)
    out = []
    for lot in lots:
        restrictions = json.loads(lot.restrictions)
        out.append(RestrictedLot(lot.id, lot.remaining, lot.expires_at, lot.created_at,
                                 frozenset(restrictions.get("categories") or ()),
                                 frozenset(restrictions.get("branches") or ())))
    return out


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
    release_pending and expire_lots would write, dated when each happened. Every spend does it first under the
    member's lock (_spend_load), so a lot is unspendable from the minute it expires and spendable from the
    minute it is released, whenever the jobs run; the reads count the same in without writing
    (selectors.members_balances). Answers how many entries it wrote. Once per use case: remembered on the
    locked member object."""
    settled_to = member.__dict__.get("_vafa_settled_to")
    if settled_to is not None and settled_to >= at:
        return 0
    changed = settle_lots([member], at)
    member.__dict__["_vafa_settled_to"] = at
    return changed


def settle_lots(members: list, at: dt.datetime, *, release: bool = True, expire: bool = True) -> int:
    """Write down the due lots of several members of one business, whose locks the caller holds: with `release`
    the pending lots past their release time, with `expire` the open lots past their expiry. Load: the due lots
    in one statement (ledger.sql.read_lots); decide: maths.settle, per member and currency; write: one plan
    (the entries, the lot movements, the lots and the balances), and the outbox events. Answers how many
    entries it wrote (lots released or expired)."""
    if not members or not (release or expire):
        return 0
    business_id = members[0].business_id
    by_id = {member.pk: member for member in members}
    writes = _Writes()
    _write_down(by_id, ledger_sql.read_lots(business_id, list(by_id), at, release=release, expire=expire), at,
                writes, expire=expire)
    if writes.entries:
        writes.write(business_id)
    return len(writes.entries)


def _write_down(by_id: dict[int, Any], lots: list[StoredLot], at: dt.datetime, writes: _Writes, *,
                expire: bool = True) -> None:
    """Decide the write-down of the `lots` due by `at` (of the members `by_id`, locked) into `writes`: per member
    and currency, maths.settle's steps (with `expire` the expiries too) as entries dated when each happened, their movements, the lots' new
    remaining and state, the balance changes and the expiry events. The members' accounts are read where not
    loaded yet, and a missing available account is made (a member whose first earning is still pending)."""
    grouped: dict[tuple[int, str], list[StoredLot]] = defaultdict(list)
    for lot in lots:
        if lot.is_due(at):
            grouped[lot.member_id, lot.currency].append(lot)
    if not grouped:
        return
    owners = [by_id[pk] for pk in {pk for pk, _ in grouped}]
    load_accounts_of([member for member in owners if "_vafa_accounts" not in member.__dict__])
    _open_available_accounts([(by_id[member_id], currency) for member_id, currency in grouped])
    money = business_of(owners[0].business_id).currency
    for (member_id, currency), due_here in sorted(grouped.items()):
        member = by_id[member_id]
        available = member_account(member, currency)
        stored = {lot.id: lot for lot in due_here}
        due = [lot.as_due() for lot in due_here]
        for step in maths.settle(available.balance + writes.changes.get(available.pk, 0), due, at, expire=expire):
            lot = stored[step.lot.id]
            writes.lots[lot.id] = (step.remaining, Lot.State.OPEN if step.remaining else Lot.State.CLOSED)
            if not step.amount:
                continue
            if step.kind == maths.RELEASE:
                debit, credit = member_account(member, currency, PENDING), available
            else:
                debit, credit = available, _business_side(member, currency, Account.Kind.EXPIRED)
                writes.expired.append((member_id, lot, step.amount))
            index = writes.entry(member, kind=step.kind, currency=currency, amount=step.amount, debit=debit,
                                 credit=credit, reason=Reason(f"ledger.{step.kind}", {
                                     "amount": step.amount, "currency": currency, "money": money}),
                                 at=step.at, actor=SYSTEM, purchase_id=lot.purchase_id, source=f"job:{step.kind}")
            # what leaves the lot: all of it when it expires; the part that repaid a debt when it is released
            if step.kind == maths.EXPIRE or step.remaining != step.amount:
                writes.moves.append((index, lot.id, None,
                                     -step.amount if step.kind == maths.EXPIRE else step.remaining - step.amount))


def _open_available_accounts(wanted: list[tuple]) -> None:
    """The members' available accounts in these currencies, made in one insert where a member has none yet (a
    member whose first earning is still pending has only the pending one). Under the members' locks."""
    missing = [Account(business_id=member.business_id, member=member, currency=currency, kind=AVAILABLE,
                       code=f"m:{member.pk}:{currency}:{AVAILABLE}")
               for member, currency in wanted if (currency, AVAILABLE) not in member.__dict__["_vafa_accounts"]]
    Account.objects.bulk_create(missing)
    for account in missing:
        account.member.__dict__["_vafa_accounts"][(account.currency, AVAILABLE)] = account
