import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection
from django.db.models import BigIntegerField, DateTimeField, F, Q, Sum, Value
from django.utils import timezone

from vafa.core.rows import read_rows
from vafa.core.sql import adapter, vendor
from vafa.ledger.maths import DueLot, RestrictedLot, settle, settled_balances
from vafa.ledger.models import Account, Entry, Lot
from vafa.ledger.sql import member_lot_time

CURRENCIES = ("points", "coins", "wallet", "gift_credit")


def due_lots(business_id: int, member_ids: list[int], at: dt.datetime):
    """The members' lots that something has happened to by `at` (released from pending, or expired) — what
    settle_due_lots writes down, and what a read counts as if it were written. On lot_member_state_idx."""
    return (Lot.objects.filter(business_id=business_id, member_id__in=member_ids,
                               state__in=(Lot.State.PENDING, Lot.State.OPEN))
            .filter(Q(state=Lot.State.PENDING, available_at__lte=at)
                    | Q(state=Lot.State.OPEN, remaining__gt=0, expires_at__lte=at)))


def members_balances(business_id: int, member_ids: list[int],
                     at: dt.datetime | None = None) -> dict[int, dict[str, dict[str, int]]]:
    """{member id: {currency: {available, pending}}} as of `at` (now): the cached account rows (proved equal to
    the entries by `vafa ledger check`) with what has happened by then and is not written down yet counted in —
    a lot past its expiry is gone and a pending lot past its release time is available from that minute, before
    the jobs (or the member's next spend) write it down. One query (accounts and due lots together) for any
    number of members. A negative available balance is a debt left by a return."""
    at = at or timezone.now()
    no_time = Value(None, output_field=DateTimeField())
    accounts = (Account.objects.filter(business_id=business_id, member_id__in=member_ids)
                .annotate(due_available_at=no_time, due_expires_at=no_time,
                          lot_id=Value(None, output_field=BigIntegerField()))
                .values_list("member_id", "currency", "kind", "balance", "due_available_at", "due_expires_at",
                             "lot_id"))
    lots = (due_lots(business_id, member_ids, at)
            .annotate(due_available_at=F("available_at"), due_expires_at=F("expires_at"), lot_id=F("id"))
            .values_list("member_id", "currency", "state", "remaining", "due_available_at", "due_expires_at",
                         "lot_id"))
    return _settled(member_ids, accounts.union(lots, all=True), at)


def _settled(member_ids: list[int], rows, at: dt.datetime) -> dict[int, dict[str, dict[str, int]]]:
    """The balances from rows (member, currency, kind or state, amount, available at, expires at, lot id): an
    account's row without a lot id, a due lot's with one."""
    result = {member_id: _no_balances() for member_id in member_ids}
    due: dict[int, dict[str, list[DueLot]]] = defaultdict(lambda: defaultdict(list))
    for member_id, currency, kind_or_state, amount, available_at, expires_at, lot_id in rows:
        if lot_id is None:
            result[member_id][currency][kind_or_state] = amount
        else:
            due[member_id][currency].append(DueLot(lot_id, kind_or_state == Lot.State.PENDING, amount,
                                                   available_at, expires_at))
    for member_id, lots_due in due.items():
        _settle(result[member_id], lots_due, at)
    return result


def _no_balances() -> dict[str, dict[str, int]]:
    return {currency: {"available": 0, "pending": 0} for currency in CURRENCIES}


def _settle(held: dict[str, dict[str, int]], due: dict[str, list[DueLot]], at: dt.datetime) -> None:
    for currency, lots_due in due.items():
        one = held[currency]
        one["available"], one["pending"] = settled_balances(one["available"], one["pending"], lots_due, at)


# --- a use case's load (one statement, with what else it reads: purchases.counters) -----------------------------


def load_parts(business_id: int, member_id: int, at: dt.datetime) -> list[tuple[str, list]]:
    """The member's accounts, the business's own and the member's lots due by `at`, as three parts of a use
    case's one-statement load: rows of (value, id, currency, kind or state, available_at, expires_at). Read
    them with loaded_balances (and ledger.services.keep_accounts)."""
    return load_parts_at(business_id, member_id, connection.ops.adapt_datetimefield_value(at))


def load_parts_at(business_id: int, member_id: int, moment) -> list[tuple[str, list]]:
    """load_parts with the moment as the database takes it (connection.ops.adapt_datetimefield_value)."""
    accounts, business_side, due = _load_texts(vendor())
    return [(accounts, [business_id, member_id]), (business_side, [business_id]),
            (due, [business_id, member_id, Lot.State.PENDING, moment, Lot.State.OPEN, moment])]


@functools.cache
def _load_texts(vendor: str) -> tuple[str, str, str]:
    postgres = vendor == "postgresql"
    no_time = "CAST(NULL AS TIMESTAMPTZ)" if postgres else "NULL"
    # PostgreSQL: the texts as varchar without a length, the type the load's UNION answers, so that no part needs
    # a conversion step of its own in the plan (purchases.counters._aggregate)
    currency, kind, state = (f"CAST({column} AS VARCHAR)" if postgres else column
                             for column in ("currency", "kind", "state"))
    accounts = f"balance, id, {currency}, {kind}, {no_time}, {no_time} FROM ledger_account WHERE business_id = %s AND "
    available, expires = member_lot_time("available_at"), member_lot_time("expires_at")
    return (f"{accounts}member_id = %s",
            f"{accounts}member_id IS NULL",  # each part on account_member_idx (an OR is not)
            f"remaining, id, {currency}, {state}, available_at, expires_at FROM ledger_lot WHERE business_id = %s AND "
            f"member_id = %s AND ((state = %s AND {available} <= %s) OR (state = %s AND remaining > 0 AND "
            f"{expires} <= %s))")


def loaded_balances(accounts: list[tuple], lots: list[tuple], at: dt.datetime) -> dict[str, dict[str, int]]:
    """{currency: {available, pending}} as of `at` from the rows of load_parts' first and third parts: what
    balances(member, at) answers, without reading again."""
    held = _no_balances()
    for balance, _, currency, kind, *_ in accounts:
        held[currency][kind] = balance
    if not lots:
        return held
    due: dict[str, list[DueLot]] = defaultdict(list)
    zone = _zone(vendor())
    for remaining, pk, currency, state, available_at, expires_at in lots:
        due[currency].append(DueLot(pk, state == Lot.State.PENDING, remaining, _moment(available_at, zone),
                                    _moment(expires_at, zone)))
    _settle(held, due, at)
    return held


@functools.cache
def _zone(vendor: str) -> dt.tzinfo | None:
    """connection.timezone (the settings' alone), without the connection's thread-local lookups."""
    return connection.timezone


def _moment(value, zone: dt.tzinfo | None = None) -> dt.datetime | None:
    """A moment read by hand-written SQL: SQLite answers text (the naive time in the connection's `zone`),
    PostgreSQL a datetime. The text read as the SQLite backend's converter reads it (its parse_datetime tries
    fromisoformat first, then makes the naive time aware in the zone: USE_TZ), without its calls."""
    if isinstance(value, str):
        zone = zone or connection.timezone
        try:
            if zone is dt.UTC:  # the offset in the text: replace(tzinfo=) costs more than the parse
                return dt.datetime.fromisoformat(value + "+00:00")
            moment = dt.datetime.fromisoformat(value)
        except ValueError:  # not the backend's text; or already with an offset
            return connection.ops.convert_datetimefield_value(value, None, connection)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return value


def balances(member, at: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """{currency: {available, pending}} of one member as of `at` (now); see members_balances."""
    return members_balances(member.business_id, [member.pk], at)[member.pk]


def gift_credit_restrictions(member, at: dt.datetime | None = None) -> list[dict]:
    """The member's restricted gift credit still usable at `at` (now), one row per kind of restriction and end:
    [{amount, categories, branches, expires_at}], ending soonest first. Unrestricted credit is not listed."""
    at = at or timezone.now()
    return _restricted(Lot.objects.filter(business_id=member.business_id, member=member, currency="gift_credit",
                                          state=Lot.State.OPEN, remaining__gt=0)
                       .exclude(expires_at__lte=at).values_list("remaining", "restrictions", "expires_at"), at)


def gift_credit_lots(member, at: dt.datetime) -> list[RestrictedLot]:
    """The member's gift-credit lots spendable at `at`, with their restrictions, as ledger.services.
    restricted_lots answers them, without writing: what is due by then (a pending lot released, an open one
    expired) is settled in memory as settle_due_lots would write it down. One hand-written query (core.rows: the
    ORM's compiling cost more than the read), on lot_member_state_idx, no lock: a dry run's."""
    rows = read_rows(Lot, "t.business_id = %s AND t.member_id = %s AND t.currency = %s AND ((t.state = %s AND "
                     "t.remaining > 0) OR (t.state = %s AND t.available_at <= %s))",
                     [member.business_id, member.pk, "gift_credit", Lot.State.OPEN.value, Lot.State.PENDING.value,
                      connection.ops.adapt_datetimefield_value(at)])
    remaining = {lot.pk: lot.remaining for lot in rows if lot.state == Lot.State.OPEN}
    due = [DueLot(lot.pk, lot.state == Lot.State.PENDING, lot.remaining, lot.available_at, lot.expires_at)
           for lot in rows]
    # gift credit is never a debt (only points are), so a release opens its whole lot, as from a zero balance
    for step in settle(0, due, at):
        remaining[step.lot.id] = step.remaining
    return [RestrictedLot(lot.pk, remaining[lot.pk], lot.expires_at, lot.created_at,
                          frozenset(lot.restrictions.get("categories") or ()),
                          frozenset(lot.restrictions.get("branches") or ()))
            for lot in rows if remaining.get(lot.pk)]


def _restricted(rows, at: dt.datetime) -> list[dict]:
    """gift_credit_restrictions from the open gift-credit lots' (remaining, restrictions, expires at)."""
    held: dict[tuple, int] = defaultdict(int)
    for remaining, restrictions, expires_at in rows:
        categories, branches = (tuple(sorted(restrictions.get(name) or ())) for name in ("categories", "branches"))
        if categories or branches:
            held[categories, branches, expires_at] += remaining
    rows = [{"amount": amount, "categories": list(categories), "branches": list(branches), "expires_at": expires_at}
            for (categories, branches, expires_at), amount in held.items()]
    return sorted(rows, key=lambda row: (row["expires_at"] is None, row["expires_at"] or at))


def balance_sheet(business_id: int, member_id: int, at: dt.datetime, expiring_days: int) -> dict:
    """One member's balance read in one hand-written statement (issue 11: a balance read is the API's most
    frequent call): {"balances": balances(), "gift_credit_restrictions": …, "expiring_soon": …}, exactly what
    those three selectors answer, from a UNION ALL of the account rows, the due lots, the open gift-credit lots
    and the lots expiring within `expiring_days`, all on the member's own indexes."""
    sql, params = balance_sheet_query(business_id, member_id, at, expiring_days)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return read_balance_sheet(cursor.fetchall(), member_id, at)


@functools.cache
def _balance_sheet_text(vendor: str) -> tuple[str, Callable[[Any], Any]]:
    """balance_sheet_query's text and how a moment goes to the database, made once per database backend: only
    the parameters are a request's own (issue 11)."""
    account, lot = (connection.ops.quote_name(model._meta.db_table) for model in (Account, Lot))
    owner = "business_id = %s AND member_id = %s"
    available, expires = member_lot_time("available_at"), member_lot_time("expires_at")
    sql = (
        f"SELECT 'a', currency, kind, balance, NULL, NULL, NULL, NULL FROM {account} WHERE {owner} "
        f"UNION ALL SELECT 'd', currency, state, remaining, available_at, expires_at, id, NULL FROM {lot} "
        f"WHERE {owner} AND ((state = %s AND {available} <= %s) OR (state = %s AND remaining > 0 AND "
        f"{expires} <= %s)) "
        f"UNION ALL SELECT 'g', currency, state, remaining, NULL, expires_at, NULL, CAST(restrictions AS TEXT) "
        f"FROM {lot} "
        f"WHERE {owner} AND currency = 'gift_credit' AND state = %s AND remaining > 0 AND "
        f"(expires_at IS NULL OR expires_at > %s) "
        f"UNION ALL SELECT 'e', currency, NULL, SUM(remaining), NULL, expires_at, NULL, NULL FROM {lot} "
        f"WHERE {owner} AND state = %s AND remaining > 0 AND {expires} > %s AND {expires} <= %s "
        f"GROUP BY currency, expires_at")
    moment = adapter(Lot._meta.get_field("expires_at"), vendor)
    assert moment is not None
    return sql, moment


def balance_sheet_query(business_id: int, member_id: int, at: dt.datetime, expiring_days: int) -> tuple[str, list]:
    """balance_sheet's statement, as (sql, params): rows of eight columns, the first naming the part ('a', 'd',
    'g', 'e'), to which a caller may add parts of its own with `UNION ALL` (members.selectors.balance_read)."""
    sql, moment = _balance_sheet_text(vendor())
    now = moment(at)
    params = [business_id, member_id, business_id, member_id, Lot.State.PENDING, now, Lot.State.OPEN, now,
              business_id, member_id, Lot.State.OPEN, now, business_id, member_id, Lot.State.OPEN, now,
              moment(at + dt.timedelta(days=expiring_days))]
    return sql, params


def read_balance_sheet(rows, member_id: int, at: dt.datetime) -> dict:
    """balance_sheet's answer from the rows of balance_sheet_query."""
    accounts, restricted, expiring = [], [], []
    for part, currency, kind_or_state, amount, available_at, expires_at, lot_id, restrictions in rows:
        if part in ("a", "d"):
            accounts.append((member_id, currency, kind_or_state, int(amount), _moment(available_at),
                             _moment(expires_at), lot_id))
        elif part == "g":
            restricted.append((int(amount), json.loads(restrictions), _moment(expires_at)))
        else:
            expiring.append({"currency": currency, "amount": int(amount), "expires_at": _moment(expires_at)})
    expiring.sort(key=lambda row: row["expires_at"])
    return {"balances": _settled([member_id], accounts, at)[member_id],
            "gift_credit_restrictions": _restricted(restricted, at), "expiring_soon": expiring}


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
