import datetime as dt
from collections import defaultdict

from django.db import OperationalError
from django.db.models import Sum
from django.utils import timezone

from vafa.ledger.models import Account, Entry, Lot

CURRENCIES = ("points", "coins", "wallet", "gift_credit")


def balances(member) -> dict[str, dict[str, int]]:
    """{currency: {available, pending}} from the cached account rows (proved equal to the entries by
    `vafa ledger check`). A negative available balance is a debt left by a return."""
    result = {c: {"available": 0, "pending": 0} for c in CURRENCIES}
    for currency, kind, balance in Account.objects.filter(business_id=member.business_id, member=member).values_list(
            "currency", "kind", "balance"):
        result[currency][kind] = balance
    return result


def exact_sums(rows, keys: tuple[str, ...], value: str) -> dict:
    """SUM(value) per key (a tuple of `keys`' values, or the value itself for one key), exactly. A member
    account is bounded (ledger.services.MAX_BALANCE), but a business account adds up every member's entries, and
    SQLite's SUM fails past 64 bits ("integer overflow"); then the sums are made here, with Python's integers,
    one row at a time. PostgreSQL sums bigints as numeric and never needs it."""
    def key_of(row):
        return row[0] if len(keys) == 1 else tuple(row)

    try:
        return {key_of(row[:-1]): row[-1] for row in rows.values_list(*keys).annotate(s=Sum(value))
                .values_list(*keys, "s")}
    except OperationalError:
        sums: dict = defaultdict(int)
        for row in rows.values_list(*keys, value).iterator(chunk_size=5000):
            sums[key_of(row[:-1])] += row[-1]
        return dict(sums)


def business_balance(business_id: int, currency: str, kind: str) -> int:
    """A business account's balance (issued, redeemed, expired …): the sum of its entries, which are not cached
    on the row (ledger.services._post says why)."""
    account = Account.objects.filter(business_id=business_id, code=f"b:{currency}:{kind}").first()
    if account is None:
        return 0
    entries = Entry.objects.filter(business_id=business_id)
    credited = exact_sums(entries.filter(credit=account), ("credit_id",), "amount").get(account.pk, 0)
    debited = exact_sums(entries.filter(debit=account), ("debit_id",), "amount").get(account.pk, 0)
    return credited - debited


def expiring_soon(member, days: int = 30, now: dt.datetime | None = None) -> list[dict]:
    now = now or timezone.now()
    rows = (Lot.objects.filter(business_id=member.business_id, member=member, state=Lot.State.OPEN,
                               remaining__gt=0, expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=days))
            .values("currency", "expires_at").annotate(amount=Sum("remaining")).order_by("expires_at"))
    return [{"currency": r["currency"], "amount": r["amount"], "expires_at": r["expires_at"]} for r in rows]


def ledger_entries(member, limit: int = 100):
    return (Entry.objects.filter(business_id=member.business_id, member=member)
            .select_related("debit", "credit").order_by("-created_at", "-id")[:limit])
