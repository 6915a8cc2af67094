"""The only code that writes ledger rows. Every function here runs inside the caller's transaction and expects
the caller to hold the member's lock (members.services.lock_member), which serialises a member's writes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Value, When
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput, RestrictedCredit
from vafa.core.idempotency import Batches
from vafa.core.reasons import Reason
from vafa.core.usecase import run_use_case
from vafa.core.validation import MAX_BALANCE, amount_problem, check_amount
from vafa.ledger import maths
from vafa.ledger.maths import LotView, RestrictedLot, allocate, allocate_restricted, lot_share_of_credit
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.ledger.selectors import balances, due_lots
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.outbox.services import emit
from vafa.program.engine import convert_points, current_rate
from vafa.program.selectors import active_program
from vafa.tenancy.models import Branch, Business

AVAILABLE = Account.Kind.AVAILABLE
MEMBERS_PER_TRANSACTION = 50  # of a gift-credit grant: about 0.1 s a batch on SQLite (docs/reliability.md)
PENDING = Account.Kind.PENDING


def member_account(member, currency: str, kind: str = AVAILABLE) -> Account:
    """The member's account, read once per use case: kept on the member object, which lock_member loads afresh
    for every use case (and which is thrown away with it when the transaction rolls back)."""
    accounts = member.__dict__.setdefault("_vafa_accounts", {})
    key = (currency, kind)
    if key not in accounts:
        accounts[key], _ = Account.objects.get_or_create(
            business_id=member.business_id, code=f"m:{member.pk}:{currency}:{kind}",
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


def load_accounts_of(members: list[Member]) -> None:
    """load_accounts for several members of one business, in one query."""
    if not members:
        return
    business_id = members[0].business_id
    by_id = {member.pk: member.__dict__.setdefault("_vafa_accounts", {}) for member in members}
    own = Account.objects.filter(business_id=business_id, member_id__in=list(by_id))
    business_side = Account.objects.filter(business_id=business_id, member__isnull=True)
    for account in own.union(business_side, all=True):  # each part on account_member_idx (an OR is not)
        if account.member_id:
            by_id[account.member_id][(account.currency, account.kind)] = account
        else:
            for accounts in by_id.values():
                accounts[("b", account.currency, account.kind)] = account


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
                purchase=None, source: str = "", program_version: int | None = None) -> list[Entry]:
    """Several credits in one go, in order, as if made one after another: one multi-row insert each for the
    entries, the lots and their movements, and one UPDATE for the member's balances. Each credit is a new lot,
    pending until its `pending_until`; a debt (after a claw-back) is repaid first."""
    at = at or timezone.now()
    running: dict[int, int] = {}  # account id → its balance as the credits before this one left it
    targets: dict[int, Account] = {}
    entries, lots = [], []
    for line in lines:
        pending = line.pending_until is not None and line.pending_until > at
        target = member_account(member, line.currency, PENDING if pending else AVAILABLE)
        targets[target.pk] = target
        balance_before = running.get(target.pk, target.balance)
        if balance_before + line.amount > MAX_BALANCE:
            raise Conflict("balance_limit", currency=line.currency, limit=MAX_BALANCE)
        running[target.pk] = balance_before + line.amount
        entry = Entry(business_id=member.business_id, member=member, kind=line.kind, currency=line.currency,
                      amount=line.amount, debit=_business_side(member, line.currency, line.from_kind),
                      credit=target, purchase=purchase, source=source, rule_id=line.rule_id,
                      program_version=program_version, reason=line.reason, created_at=at, **actor.fields())
        opened = line.amount if pending else lot_share_of_credit(balance_before, line.amount)
        entries.append(entry)
        lots.append((Lot(business_id=member.business_id, member=member, currency=line.currency,
                         state=Lot.State.PENDING if pending else (Lot.State.OPEN if opened else Lot.State.CLOSED),
                         amount=line.amount, remaining=opened, created_at=at,
                         available_at=line.pending_until if pending else None, expires_at=line.expires_at,
                         restrictions=line.restrictions or {}, purchase=purchase), entry, opened))
    if not entries:
        return []
    Entry.objects.bulk_create(entries)
    for lot, entry, _ in lots:
        lot.origin = entry
    Lot.objects.bulk_create([lot for lot, _, _ in lots])
    LotMovement.objects.bulk_create([LotMovement(business_id=member.business_id, entry=entry, lot=lot, amount=opened)
                                     for lot, entry, opened in lots if opened])
    changes = {pk: balance - targets[pk].balance for pk, balance in running.items()}
    _add_to_balances(changes)
    for pk, balance in running.items():
        targets[pk].balance = balance
    return entries


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


def plan_restricted_payment(member, basket: list[tuple[str, int]], branch: str | None, wanted: int,
                            at: dt.datetime, currency: str = "gift_credit") -> list[tuple[int, int]]:
    """Which lots pay `wanted` of a basket [(category, amount)] at a branch, each within its restrictions:
    [(lot id, amount)] for debit(plan=…). Short of it: restricted_credit when the member holds enough but not
    for these lines or this branch (naming what the credit is for), else insufficient_balance."""
    lots = restricted_lots(member, at, currency)
    plan = allocate_restricted(lots, basket, branch, wanted)
    usable = sum(take for _, take in plan)
    if usable == wanted:
        return plan
    held = sum(lot.remaining for lot in lots)
    if held < wanted:
        raise InsufficientBalance("insufficient_balance", currency=currency, needed=wanted, available=held)
    by_restriction: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = defaultdict(int)
    for lot in lots:
        by_restriction[tuple(sorted(lot.categories)), tuple(sorted(lot.branches))] += lot.remaining
    raise RestrictedCredit("restricted_credit", currency=currency, needed=wanted, available=held, usable=usable,
                           allowed=[{"categories": list(categories), "branches": list(branches), "amount": amount}
                                    for (categories, branches), amount in sorted(by_restriction.items())])


DEBT_CURRENCIES = ("points",)  # only points may go below zero, and only by a return's claw-back


def reverse_earning(member, currency: str, amount: int, *, purchase, reason: Reason | str, at: dt.datetime | None = None,
                    actor: Actor = SYSTEM, source: str = "", rule_id: str = "") -> tuple[list[Entry], int]:
    """Claw back what a purchase earned: from its own lots first (pending or open), then from other lots
    expiring first. For points what is left becomes a debt that later earnings repay (the balance goes
    negative); money-like currencies never go negative, so their shortfall is answered as unrecovered."""
    at = at or timezone.now()
    settle_due_lots(member, at)
    entries = []
    own_pending = list(Lot.objects.filter(business_id=member.business_id, member=member, currency=currency,
                                          purchase=purchase, state=Lot.State.PENDING, remaining__gt=0))
    left = amount
    unrecovered = 0
    if currency not in DEBT_CURRENCIES:
        reachable = sum(lot.remaining for lot in own_pending) + spendable(member, currency, at=at)
        unrecovered = max(amount - reachable, 0)
        left = amount - unrecovered
    if own_pending and left:
        take = min(left, sum(lot.remaining for lot in own_pending))
        entry = _post(member, kind=Entry.Kind.REVERSE, currency=currency, amount=take,
                      debit=member_account(member, currency, PENDING),
                      credit=_business_side(member, currency, Account.Kind.ISSUED),
                      reason=reason, at=at, actor=actor, purchase=purchase, source=source, rule_id=rule_id)
        _take_from_lots(entry, own_pending, take, allow_shortfall=False)
        entries.append(entry)
        left -= take
    if left:
        entry = _post(member, kind=Entry.Kind.REVERSE, currency=currency, amount=left,
                      debit=member_account(member, currency),
                      credit=_business_side(member, currency, Account.Kind.ISSUED),
                      reason=reason, at=at, actor=actor, purchase=purchase, source=source, rule_id=rule_id)
        lots = _open_lots(member, currency, at)
        own = [lot for lot in lots if lot.purchase_id == purchase.pk]
        shortfall = _take_from_lots(entry, own, left, allow_shortfall=True)
        if shortfall:
            others = [lot for lot in lots if lot.purchase_id != purchase.pk]
            _take_from_lots(entry, others, shortfall, allow_shortfall=True)
        entries.append(entry)
    return entries, unrecovered


def give_back(member, currency: str, amount: int, *, spend_entries: list[Entry], reason: Reason | str,
              fallback_expires_at: dt.datetime | None, at: dt.datetime | None = None, actor: Actor = SYSTEM,
              purchase=None, source: str = "") -> Entry:
    """Return spent credit (a purchase was returned): back into the lots the spend took while they have not
    expired, else into a new lot; a debt is repaid first."""
    at = at or timezone.now()
    account = member_account(member, currency)
    balance_before = account.balance
    entry = _post(member, kind=Entry.Kind.REVERSE, currency=currency, amount=amount,
                  debit=_business_side(member, currency, Account.Kind.REDEEMED), credit=account,
                  reason=reason, at=at, actor=actor, purchase=purchase, source=source)
    to_lots = lot_share_of_credit(balance_before, amount)
    # Last taken, first restored: the reverse of the spend's expiry-first order, the same on every database.
    taken = (LotMovement.objects.filter(entry__in=spend_entries, amount__lt=0).select_related("lot")
             .order_by("-id"))
    for movement in taken:
        if to_lots == 0:
            break
        lot = movement.lot
        if lot.expires_at is not None and lot.expires_at <= at:
            continue
        restore = min(-movement.amount, to_lots)
        restore = min(restore, lot.amount - lot.remaining)  # never above the lot's size
        if restore <= 0:
            continue
        lot.remaining += restore
        lot.state = Lot.State.OPEN
        lot.save(update_fields=["remaining", "state"])
        _move(entry, lot, restore)
        to_lots -= restore
    if to_lots:
        lot = Lot.objects.create(business_id=member.business_id, member=member, currency=currency,
                                 state=Lot.State.OPEN, amount=to_lots, remaining=to_lots, created_at=at,
                                 expires_at=fallback_expires_at, purchase=purchase, origin=entry)
        _move(entry, lot, to_lots)
    return entry


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


def settle_lots(members: list[Member], at: dt.datetime, *, release: bool = True, expire: bool = True) -> int:
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
    expired: list[tuple[Member, Lot, int]] = []
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


def _open_available_accounts(wanted: list[tuple[Member, str]]) -> None:
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


def adjust(business, member_id: int, currency: str, amount: int, *, reason: Reason | str, actor: Actor = SYSTEM,
           idempotency_key: str | None = None) -> dict:
    """A manual credit (amount > 0) or debit (amount < 0) with a reason: a use case of its own. A debit never
    takes a balance below zero."""

    errors = []
    if currency not in ("points", "coins", "wallet", "gift_credit"):
        errors.append({"field": "currency", "message": "unknown_choice"})
    check_amount("amount", amount, errors, allow_zero=False, signed=True)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        errors.append({"field": "reason", "message": "required"})
    if errors:
        raise InvalidInput(errors=errors)

    def use_case() -> dict:
        member = lock_member(member_id, business.pk)
        now = timezone.now()
        if amount > 0:
            _, document = active_program(business)
            days = document.settings.currency(currency).expiry_days
            entry = credit(member, currency, amount, kind=Entry.Kind.ADJUST, reason=reason.strip(),
                           from_kind=Account.Kind.ADJUSTMENT, at=now, actor=actor, source="adjustment",
                           expires_at=now + dt.timedelta(days=days) if days else None)
        else:
            entry = debit(member, currency, -amount, kind=Entry.Kind.ADJUST, reason=reason.strip(),
                          to_kind=Account.Kind.ADJUSTMENT, at=now, actor=actor, source="adjustment")
        emit(business.pk, "balance.adjusted", {"member_id": member.pk, "currency": currency, "amount": amount,
                                               "reason": reason.strip()})
        return {"entry_id": entry.pk, "member_id": member.pk, "currency": currency, "amount": amount,
                "reason": entry.reason, "balance": balances(member, now)}

    result, replayed = run_use_case(business, "adjustment", {"member_id": member_id, "currency": currency,
                                                             "amount": amount, "reason": reason},
                                    use_case, actor=actor, key=idempotency_key, object_type="entry",
                                    object_id="entry_id")
    return result | {"replayed": replayed}


def convert_points_to_wallet(business, member_id: int, points: int, *, actor: Actor = SYSTEM,
                             idempotency_key: str | None = None, at: dt.datetime | None = None) -> dict:
    """Points → wallet credit at the loyalty table's rate of the day, in whole steps only (F19): asking for
    250 points at 100 → 10,000 converts 200 points into 20,000. Two entries of kind convert: the points go to
    the conversion account, the money comes from it."""

    problem = amount_problem(points, allow_zero=False)
    if problem:
        raise InvalidInput("points", problem)

    def use_case() -> dict:
        member = lock_member(member_id, business.pk)
        now = at or timezone.now()
        version, document = active_program(business)
        rate = current_rate(document, now.astimezone(ZoneInfo(business.timezone)).date())
        if rate is None or rate.value == 0:
            raise InvalidInput("points", "no_loyalty_table_rate")
        used, value = convert_points(rate, points)
        if used == 0:
            raise InvalidInput("points", "less_than_one_step")
        reason = Reason("ledger.convert", {"points": used, "value": value, "money": business.currency})
        out = debit(member, "points", used, kind=Entry.Kind.CONVERT, reason=reason, to_kind=Account.Kind.CONVERSION,
                    at=now, actor=actor, source="conversion", program_version=version.version)
        wallet_days = document.settings.currency("wallet").expiry_days
        into = credit(member, "wallet", value, kind=Entry.Kind.CONVERT, reason=reason,
                      from_kind=Account.Kind.CONVERSION, at=now, actor=actor, source="conversion",
                      program_version=version.version,
                      expires_at=now + dt.timedelta(days=wallet_days) if wallet_days else None)
        emit(business.pk, "points.converted", {"member_id": member.pk, "points": used, "wallet": value})
        return {"member_id": member.pk, "points_converted": used, "wallet_credited": value,
                "rate": {"points": rate.points, "value": rate.value}, "entries": [out.pk, into.pk],
                "reason": reason.render(business.language, business.calendar), "balance": balances(member, now)}

    result, replayed = run_use_case(business, "conversion", {"member_id": member_id, "points": points}, use_case,
                                    actor=actor, key=idempotency_key, object_type="member",
                                    object_id="member_id")
    return result | {"replayed": replayed}


def grant_gift_credit(business, *, amount: int, reason: Reason | str, member_ids: list[int] | None = None,
                      tier: str | None = None, expires_at: dt.datetime | None = None,
                      categories: list[str] | None = None, branches: list[str] | None = None,
                      occasion: str = "", actor: Actor = SYSTEM, idempotency_key: str | None = None) -> dict:
    """Gift credit (اعتبار هدیه, F28): a fixed amount with no purchase condition, to some members or to every
    member of a tier, each grant a lot with its own expiry and optional category and branch restrictions
    (birthdays, referrals, occasions, apologies)."""

    errors = []
    check_amount("amount", amount, errors, allow_zero=False)
    if not isinstance(reason, str) or not reason.strip():
        errors.append({"field": "reason", "message": "required"})
    if bool(member_ids) == bool(tier):
        errors.append({"field": "member_ids", "message": "give_members_or_tier"})
    if expires_at is not None and expires_at <= timezone.now():
        errors.append({"field": "expires_at", "message": "must_be_in_future"})
    known = set(Branch.objects.filter(business=business).values_list("code", flat=True))
    errors.extend({"field": "branches", "message": "unknown_branch"} for code in branches or [] if code not in known)
    if errors:
        raise InvalidInput(errors=errors)
    members = Member.objects.filter(business=business, status=Member.Status.ACTIVE)
    members = members.filter(pk__in=member_ids) if member_ids else members.filter(tier=tier)
    ids = list(members.order_by("pk").values_list("pk", flat=True))
    if member_ids and len(ids) != len(set(member_ids)):
        raise InvalidInput("member_ids", "member_not_found")
    restrictions = {k: v for k, v in (("categories", categories or []), ("branches", branches or [])) if v}

    full = Account.objects.filter(business=business, member_id__in=ids, currency="gift_credit",
                                  balance__gt=MAX_BALANCE - amount).exists()
    if full:  # checked before the first batch, so the batches cannot stop half-way on it
        raise Conflict("balance_limit", currency="gift_credit", limit=MAX_BALANCE)

    def use_case(batches: Batches) -> dict:
        now = timezone.now()
        # MEMBERS_PER_TRANSACTION members per transaction: a grant to 10,000 members never holds SQLite's write
        # lock for long. Each member's grant (entry, lot, event) is whole in its batch, and the batch's mark in
        # the key's record commits with it: a grant interrupted between batches resumes, with the same key,
        # after the last member granted, to exactly the intended total. Without a key there is nothing to resume
        # by: the grant is then one transaction, all or nothing.
        with transaction.atomic() if batches.record_pk is None else nullcontext():
            for start in range(batches.start, len(ids), MEMBERS_PER_TRANSACTION):
                with transaction.atomic():
                    batches.done(min(start + MEMBERS_PER_TRANSACTION, len(ids)))
                    for member_id in ids[start:start + MEMBERS_PER_TRANSACTION]:
                        member = lock_member(member_id, business.pk)
                        credit(member, "gift_credit", amount, kind=Entry.Kind.EARN, reason=reason.strip(), at=now,
                               actor=actor, source=f"grant:{occasion}" if occasion else "grant",
                               expires_at=expires_at, restrictions=restrictions)
                        emit(business.pk, "credit.earned", {
                            "member_id": member_id, "currency": "gift_credit", "amount": amount,
                            "occasion": occasion, "reason": reason.strip(),
                            "expires_at": expires_at.isoformat() if expires_at else None})
        return {"members": len(ids), "amount": amount, "total": amount * len(ids), "restrictions": restrictions,
                "expires_at": expires_at.isoformat() if expires_at else None}

    request = {"amount": amount, "reason": reason, "member_ids": sorted(ids), "tier": tier,
               "expires_at": expires_at.isoformat() if expires_at else None, "restrictions": restrictions,
               "occasion": occasion}
    result, replayed = run_use_case(business, "gift_credit.grant", request, use_case, actor=actor,
                                    key=idempotency_key, object_type="gift_credit", object_id="members",
                                    in_batches=True, resumable=True)
    return result | {"replayed": replayed}
