"""Ledger arithmetic with no database: which lots a spend consumes, what a credit adds to lots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vafa.core.errors import InsufficientBalance

_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


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


@dataclass(frozen=True)
class DueLot:
    """A lot something has happened to by now that the ledger may not have written down yet: a pending lot
    whose release time has passed, or an open lot past its expiry."""

    id: int
    pending: bool
    remaining: int
    available_at: dt.datetime | None
    expires_at: dt.datetime | None


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
