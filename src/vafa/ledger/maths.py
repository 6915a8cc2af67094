"""Ledger arithmetic with no database: which lots a spend consumes, what a credit adds to lots."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from vafa.core.errors import InsufficientBalance, RestrictedCredit

_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)
PENDING, OPEN, CLOSED = "pending", "open", "closed"  # Lot.State, without importing the models here


@dataclass(frozen=True)
class LotView:
    id: int
    remaining: int
    expires_at: dt.datetime | None
    created_at: dt.datetime


def consumption_order(lots: list[LotView]) -> list[LotView]:
    """Lots that expire first are used first; lots without expiry last; then the oldest; then by id."""
    return sorted(lots, key=lambda lot: (lot.expires_at or _FAR_FUTURE, lot.created_at, lot.id))


def allocate(lots: list[LotView], amount: int, allow_shortfall: bool = False) -> tuple[list[tuple[int, int]], int]:
    """Take `amount` from lots in consumption order: ([(lot id, taken)], shortfall).

    Without allow_shortfall a spend larger than the lots raises InsufficientBalance and takes nothing."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    takes: list[tuple[int, int]] = []
    left = amount
    for lot in consumption_order(lots):
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            takes.append((lot.id, take))
            left -= take
    if left and not allow_shortfall:
        raise InsufficientBalance("insufficient_balance", needed=amount, available=amount - left)
    return takes, left


def lot_share_of_credit(balance_before: int, amount: int) -> int:
    """How much of a credit becomes spendable lot: a debt (negative balance, after a return's claw-back) is
    repaid first, and only the rest opens a lot."""
    return max(0, min(amount, balance_before + amount))


@dataclass(frozen=True)
class RestrictedLot:
    id: int
    remaining: int
    expires_at: dt.datetime | None
    created_at: dt.datetime
    categories: frozenset[str] = frozenset()  # empty: any category
    branches: frozenset[str] = frozenset()  # empty: any branch


def allocate_restricted(lots: list[RestrictedLot], line_amounts: list[tuple[str, int]], branch: str | None,
                        wanted: int) -> list[tuple[int, int]]:
    """Pay up to `wanted` of a basket with restricted credit (gift credit): lots that expire first pay first; a
    lot for some branches pays only there, a lot for some categories pays only for those lines, and no line is
    paid twice. Answers [(lot id, taken)]; the sum may fall short of `wanted` when the restrictions allow less."""
    left = [amount for _, amount in line_amounts]
    still = wanted
    takes = []
    views = {lot.id: lot for lot in lots}
    for view in consumption_order([LotView(lot.id, lot.remaining, lot.expires_at, lot.created_at) for lot in lots]):
        lot = views[view.id]
        if still == 0:
            break
        if lot.branches and branch not in lot.branches:
            continue
        taken = 0
        for i, (category, _) in enumerate(line_amounts):
            if lot.categories and category not in lot.categories:
                continue
            part = min(left[i], lot.remaining - taken, still - taken)
            left[i] -= part
            taken += part
        if taken:
            takes.append((lot.id, taken))
            still -= taken
    return takes


def plan_restricted(lots: list[RestrictedLot], basket: list[tuple[str, int]], branch: str | None, wanted: int,
                    currency: str = "gift_credit") -> list[tuple[int, int]]:
    """Which of `lots` pay `wanted` of a basket [(category, amount)] at a branch, each within its restrictions:
    [(lot id, amount)]. Short of it: restricted_credit when the lots hold enough but not for these lines or
    this branch (naming what the credit is for), else insufficient_balance."""
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


@dataclass(frozen=True)
class DueLot:
    """A lot something has happened to by now that the ledger may not have written down yet: a pending lot
    whose release time has passed, or an open lot past its expiry."""

    id: int
    pending: bool
    remaining: int
    available_at: dt.datetime | None
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class StoredLot:
    """A lot as a spend or a write-down loads it (ledger.sql.read_lots): its restrictions as JSON text, read only
    for restricted credit."""

    id: int
    member_id: int
    currency: str
    state: str
    amount: int
    remaining: int
    created_at: dt.datetime
    available_at: dt.datetime | None
    expires_at: dt.datetime | None
    purchase_id: int | None
    restrictions: str

    def is_due(self, at: dt.datetime) -> bool:
        """What a write-down takes: released by `at` (pending), or expired by `at` (open, not used up)."""
        if self.state == PENDING:
            return self.available_at is not None and self.available_at <= at
        return (self.state == OPEN and self.remaining > 0 and self.expires_at is not None
                and self.expires_at <= at)

    def as_due(self) -> DueLot:
        return DueLot(self.id, self.state == PENDING, self.remaining, self.available_at, self.expires_at)


def release_order(lots: list[DueLot]) -> list[DueLot]:
    """Pending lots are released in the order they became available."""
    return sorted((lot for lot in lots if lot.pending), key=lambda lot: (lot.available_at or _FAR_FUTURE, lot.id))


RELEASE, EXPIRE = "release", "expire"


@dataclass(frozen=True)
class Settlement:
    """One write-down of a due lot: `amount` moved (pending → available, or available → expired), dated `at`
    (when it happened), leaving the lot with `remaining`."""

    lot: DueLot
    kind: str  # RELEASE or EXPIRE
    amount: int
    remaining: int
    at: dt.datetime


def settle(available: int, due: list[DueLot], at: dt.datetime, expire: bool = True) -> list[Settlement]:
    """What writing down one member's due lots of one currency does, in order: each due pending lot is released
    in the order it became available (repaying a debt first: only the rest opens), then, with `expire`, every
    open lot past its expiry by `at`, a just-released one included, expires, in the order it expired."""
    steps: list[Settlement] = []
    left = {lot.id: lot.remaining for lot in due if not lot.pending}
    for lot in release_order(due):
        opened = lot_share_of_credit(available, lot.remaining)
        available += lot.remaining
        steps.append(Settlement(lot, RELEASE, lot.remaining, opened, lot.available_at or at))
        left[lot.id] = opened
    if expire:
        expiring = [lot for lot in due if left.get(lot.id) and lot.expires_at is not None and lot.expires_at <= at]
        for lot in sorted(expiring, key=lambda lot: (lot.expires_at, lot.id)):
            steps.append(Settlement(lot, EXPIRE, left[lot.id], 0, lot.expires_at or at))
    return steps


def settled_balances(available: int, pending: int, due: list[DueLot], at: dt.datetime) -> tuple[int, int]:
    """(available, pending) once everything due by `at` is written down (settle), without writing."""
    for step in settle(available, due, at):
        if step.kind == RELEASE:
            available += step.amount
            pending -= step.amount
        else:
            available -= step.amount
    return available, pending


# --- reversals: what a return or a refund does to the ledger, decided before anything is written --------------

_NEW_LOT = 1 << 62
AVAILABLE = "available"  # the member's spendable account (Account.Kind; PENDING is both a state and a kind)
DEBT_CURRENCIES = ("points",)  # only points may go below zero, and only by a return's claw-back


@dataclass
class DraftLot:
    """A lot as a reversal sees it and changes it (id None: a lot the reversal opens)."""

    id: int | None
    currency: str
    state: str
    amount: int
    remaining: int
    created_at: dt.datetime
    expires_at: dt.datetime | None
    purchase_id: int | None = None
    changed: bool = False

    def view(self, key: int) -> LotView:
        return LotView(key, self.remaining, self.expires_at, self.created_at)


@dataclass
class DraftEntry:
    """A reverse entry: the member's `member_kind` account gives (claw-back) or receives (give-back) `amount`,
    against the business's `business_kind` account; `moves` are its lot movements."""

    currency: str
    amount: int
    member_kind: str  # available or pending
    business_kind: str  # issued (a claw-back) or redeemed (a give-back)
    to_member: bool
    reason: object
    rule_id: str = ""
    moves: list[tuple[DraftLot, int]] = field(default_factory=list)


class LedgerDraft:
    """The ledger side of a reversal, decided in memory: each step sees the lots and balances as the steps
    before it left them, exactly as if they had been written one after another. `balances`: the member's
    (currency, account kind) → balance, once what is due has been written down (settle_due_lots)."""

    def __init__(self, lots: list[DraftLot], balances: dict[tuple[str, str], int]) -> None:
        self.lots = {lot.id: lot for lot in lots}
        self.balances = dict(balances)
        self.entries: list[DraftEntry] = []
        self.opened: list[tuple[DraftLot, DraftEntry]] = []

    def lot(self, lot: DraftLot) -> DraftLot:
        """The draft's own copy of a lot (a lot read twice is one lot)."""
        return self.lots.setdefault(lot.id, lot)

    def _entry(self, entry: DraftEntry) -> DraftEntry:
        key = (entry.currency, entry.member_kind)
        self.balances[key] = self.balances.get(key, 0) + (entry.amount if entry.to_member else -entry.amount)
        self.entries.append(entry)
        return entry

    def _take(self, entry: DraftEntry, lots: list[DraftLot], amount: int, allow_shortfall: bool) -> int:
        # a lot opened by this draft has no id yet: it sorts after every stored one, as its id will
        keys = [lot.id if lot.id is not None else _NEW_LOT + i for i, lot in enumerate(lots)]
        by_key = dict(zip(keys, lots, strict=True))
        takes, shortfall = allocate([lot.view(key) for key, lot in by_key.items()], amount, allow_shortfall)
        for key, take in takes:
            lot = by_key[key]
            lot.remaining -= take
            if lot.remaining == 0:
                lot.state = CLOSED
            lot.changed = True
            entry.moves.append((lot, -take))
        return shortfall

    def claw_back(self, currency: str, amount: int, purchase_id: int, reason: object, rule_id: str = "") -> int:
        """Claw back what a purchase earned: from its own pending lots first, then from the available balance,
        its own open lots first and then others expiring first. For points what is left becomes a debt that
        later earnings repay; money-like currencies never go negative, so their shortfall is answered as
        unrecovered (the answer)."""
        live = [lot for lot in [*self.lots.values(), *(lot for lot, _ in self.opened)]
                if lot.currency == currency and lot.remaining > 0]
        own_pending = [lot for lot in live if lot.state == PENDING and lot.purchase_id == purchase_id]
        left, unrecovered = amount, 0
        if currency not in DEBT_CURRENCIES:
            reachable = sum(lot.remaining for lot in own_pending) + max(self.balances.get((currency, AVAILABLE), 0), 0)
            unrecovered = max(amount - reachable, 0)
            left = amount - unrecovered
        if own_pending and left:
            take = min(left, sum(lot.remaining for lot in own_pending))
            entry = self._entry(DraftEntry(currency, take, PENDING, "issued", False, reason, rule_id))
            self._take(entry, own_pending, take, allow_shortfall=False)
            left -= take
        if left:
            entry = self._entry(DraftEntry(currency, left, AVAILABLE, "issued", False, reason, rule_id))
            spendable = [lot for lot in live if lot.state == OPEN]
            shortfall = self._take(entry, [lot for lot in spendable if lot.purchase_id == purchase_id], left, True)
            if shortfall:
                self._take(entry, [lot for lot in spendable if lot.purchase_id != purchase_id], shortfall, True)
        return unrecovered

    def give_back(self, currency: str, amount: int, taken: list[tuple[DraftLot, int]], reason: object,
                  at: dt.datetime, fallback_expires_at: dt.datetime | None, purchase_id: int | None) -> None:
        """Return spent credit: back into the lots the spend took (`taken`: each lot and what was taken from
        it, last taken first) while they have not expired, else into a new lot; a debt is repaid first."""
        balance_before = self.balances.get((currency, AVAILABLE), 0)
        entry = self._entry(DraftEntry(currency, amount, AVAILABLE, "redeemed", True, reason))
        to_lots = lot_share_of_credit(balance_before, amount)
        for lot, took in taken:
            if to_lots == 0:
                break
            lot = self.lot(lot)
            if lot.expires_at is not None and lot.expires_at <= at:
                continue
            restore = min(took, to_lots, lot.amount - lot.remaining)  # never above the lot's size
            if restore <= 0:
                continue
            lot.remaining += restore
            lot.state = OPEN
            lot.changed = True
            entry.moves.append((lot, restore))
            to_lots -= restore
        if to_lots:
            lot = DraftLot(None, currency, OPEN, to_lots, to_lots, at, fallback_expires_at, purchase_id, True)
            self.opened.append((lot, entry))
            entry.moves.append((lot, to_lots))

