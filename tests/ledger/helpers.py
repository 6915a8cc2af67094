"""Shared helpers for the ledger and purchase tests."""

from __future__ import annotations

import copy
import datetime as dt

from django.db.models import Q, Sum

from conftest import PROGRAM
from vafa.ledger.models import Account, Entry, Lot


def document(*, pending_days: int = 0, expiry_days: int | None = 365, rate: tuple[int, int] | None = None,
             earn_on_credit_payments: bool | None = None, rules: list | None = None, tiers: bool = True) -> dict:
    """A copy of conftest.PROGRAM with the given changes."""
    doc = copy.deepcopy(PROGRAM)
    points = doc["settings"]["currencies"]["points"]
    points["pending_days"] = pending_days
    if expiry_days is None:
        points.pop("expiry_days", None)
    else:
        points["expiry_days"] = expiry_days
    if rate is not None:
        doc["loyalty_table"] = {"rates": [{"points": rate[0], "value": rate[1]}]}
    if earn_on_credit_payments is not None:
        doc["settings"]["earn_on_credit_payments"] = earn_on_credit_payments
    if rules is not None:
        doc["rules"] = rules
    if not tiers:
        doc.pop("tiers")
    return doc


def lot_of(entry: Entry) -> Lot:
    return Lot.objects.get(origin=entry)


def points(member) -> dict[str, int]:
    """{available, pending} points from the account rows."""
    result = {"available": 0, "pending": 0}
    for kind, balance in Account.objects.filter(member=member, currency="points").values_list("kind", "balance"):
        result[kind] = balance
    return result


def entry_sum(member, kind: str, currency: str = "points", **filters) -> int:
    return (Entry.objects.filter(member=member, kind=kind, currency=currency, **filters)
            .aggregate(s=Sum("amount"))["s"] or 0)


def ledger_total_from_entries(member, currency: str = "points") -> int:
    """issued − spent − expired − reversed earnings + given back, from the Entry rows by kind and direction.
    Releases move between the member's own accounts and do not change the total."""
    member_side = Q(debit__member=member) | Q(credit__member=member)
    entries = Entry.objects.filter(member_side, member=member, currency=currency)
    earned = entries.filter(kind=Entry.Kind.EARN).aggregate(s=Sum("amount"))["s"] or 0
    spent = entries.filter(kind=Entry.Kind.SPEND).aggregate(s=Sum("amount"))["s"] or 0
    expired = entries.filter(kind=Entry.Kind.EXPIRE).aggregate(s=Sum("amount"))["s"] or 0
    reversed_out = (entries.filter(kind=Entry.Kind.REVERSE, debit__member=member)
                    .aggregate(s=Sum("amount"))["s"] or 0)
    given_back = (entries.filter(kind=Entry.Kind.REVERSE, credit__member=member)
                  .aggregate(s=Sum("amount"))["s"] or 0)
    return earned - spent - expired - reversed_out + given_back


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)
