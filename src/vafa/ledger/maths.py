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
