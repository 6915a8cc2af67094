"""The ledger's hand-written writes (issue 11): credits (their entries, the lots they open and the lots'
first movements), reversals, spends and write-downs, and the members' balances, as statements of a
core.sql.WritePlan; and the lots a spend or a write-down loads (read_lots).

PostgreSQL: one statement for all of it, so the plan stays one round trip: the entries' and lots' ids are taken
from their sequences inside it (a data-modifying WITH), in the order given. SQLite: the entries, then the lots
(their origins from the ids the entries' INSERT ... RETURNING gave), then the movements and the balances, each a
multi-row statement in-process. Tested on both (tests/ledger, tests/purchases).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.db import connection

from vafa.core.errors import InsufficientBalance
from vafa.core.sql import Statement, WritePlan, next_id_sql, set_columns, table, vendor
from vafa.ledger.maths import StoredLot
from vafa.ledger.models import Account, Entry, Lot, LotMovement


def add_credits(plan: WritePlan, business_id: int, entries: list[dict[str, Any]], lots: list[dict[str, Any]],
                opened: list[int], changes: dict[int, int]) -> Callable[[], list[int]]:
    """Credits into `plan`: entries[i] opens lots[i] (its origin), which moves opened[i] into it unless 0; the
    member accounts' balances change by `changes` (account id → change). Answers a function that gives the
    entries' ids once the plan is written."""
    if vendor() == "postgresql":
        statement = plan.add(*_credits_in_one(business_id, entries, lots, opened, changes), returning=True,
                             check=_every_balance(len(changes), column=0))
        return lambda: [row[1] for row in statement.rows]
    written = plan.insert(Entry, entries, returning=True)
    assert written is not None
    lot_table = table(Lot)

    def lot_params() -> list[Any]:
        params: list[Any] = []
        for row, (entry_id,) in zip(lots, written.rows, strict=True):
            params += lot_table.values(row | {"origin_id": entry_id})
        return params

    made = plan.add(lot_table.insert_sql(len(lots), returning=True), lot_params, returning=True)
    moves = [(i, amount) for i, amount in enumerate(opened) if amount]
    if moves:
        movement_table = table(LotMovement)

        def movement_params() -> list[Any]:
            params: list[Any] = []
            for i, amount in moves:
                params += movement_table.values({"business_id": business_id, "entry_id": written.rows[i][0],
                                                 "lot_id": made.rows[i][0], "amount": amount})
            return params

        plan.add(movement_table.insert_sql(len(moves)), movement_params)
    add_balances(plan, business_id, changes)
    return lambda: [row[0] for row in written.rows]


def open_account(business_id: int, member_id: int, currency: str, kind: str, code: str) -> tuple[int, int]:
    """A member's account made now, in one statement, where the caller has read all the member's accounts and
    found none (under the member's lock); one made meanwhile by another path is answered as it is. Answers
    (id, balance)."""
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_ACCOUNT, [business_id, member_id, currency, kind, code])
        pk, balance = cursor.fetchone()
    return pk, balance


# the no-op update makes the conflicting row answer its id and balance (DO NOTHING answers no row)
_OPEN_ACCOUNT = (f"INSERT INTO {Account._meta.db_table} (business_id, member_id, currency, kind, code, balance) "
                 "VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT (business_id, code) DO UPDATE SET balance = "
                 f"{Account._meta.db_table}.balance RETURNING id, balance")


def add_balances(plan: WritePlan, business_id: int, changes: dict[int, int], *, covered: bool = True) -> None:
    """The member accounts' balances changed in one UPDATE (ids in order, as every writer locks). `covered`: a
    change that takes from a balance applies only while the balance covers it, so none goes below zero; the
    plan is refused (InsufficientBalance) when one did not apply. Without it (a reversal's claw-back of points
    already spent) a balance may go below zero."""
    changes = {pk: change for pk, change in changes.items() if change}
    if changes:
        sql, params = _balances(business_id, changes, covered=covered)
        plan.add(sql, params, check=_every_balance(len(changes)) if covered else None)


def _balances(business_id: int, changes: dict[int, int], returning: str = "",
              covered: bool = True) -> tuple[str, list[Any]]:
    ids = sorted(changes)
    case_params = [value for pk in ids for value in (pk, changes[pk])]
    if not covered:
        return _balances_sql(len(ids), returning, False), [*case_params, business_id, *ids]
    return _balances_sql(len(ids), returning, True), [*case_params, business_id, *ids, *case_params, *case_params]


@functools.cache
def _balances_sql(count: int, returning: str, covered: bool) -> str:
    case_sql = "CASE id " + " ".join(["WHEN %s THEN %s"] * count) + " END"
    sql = (f"UPDATE {Account._meta.db_table} SET balance = balance + {case_sql} WHERE business_id = %s AND id IN "
           f"({', '.join(['%s'] * count)})")
    return sql + (f" AND ({case_sql} >= 0 OR balance + {case_sql} >= 0)" if covered else "") + returning


def add_draft(plan: WritePlan, business_id: int, entries: list[dict[str, Any]],
              lots: list[tuple[dict[str, Any], int]], moves: list[tuple[int, int | None, int | None, int]],
              lot_changes: dict[int, tuple[int, str]], changes: dict[int, int]) -> Callable[[], list[int]]:
    """A decided reversal (ledger.maths.LedgerDraft) into `plan`: its entries; the lots it opens, each with the
    index of the entry that opens it; its movements (entry index, a stored lot's id or an opened lot's index,
    amount); the stored lots' new (remaining, state); the member accounts' balance changes, which may go below
    zero (a claw-back of points already spent). Answers a function that gives the entries' ids once written."""
    if connection.vendor == "postgresql":
        statement = plan.add(*_draft_in_one(business_id, entries, lots, moves), returning=True)
        ids = lambda: [entry_id for _, entry_id in sorted(statement.rows)]  # noqa: E731
    else:
        written = plan.insert(Entry, entries, returning=True)
        assert written is not None
        lot_table, movement_table = table(Lot), table(LotMovement)
        made: Statement | None = None
        if lots:
            def lot_params() -> list[Any]:
                return [value for row, i in lots for value in lot_table.values(row | {"origin_id": written.rows[i][0]})]

            made = plan.add(lot_table.insert_sql(len(lots), returning=True), lot_params, returning=True)
        if moves:
            def movement_params() -> list[Any]:
                params: list[Any] = []
                for i, lot_id, j, amount in moves:
                    lot = lot_id if j is None else made.rows[j][0]  # type: ignore[union-attr]
                    params += movement_table.values({"business_id": business_id, "entry_id": written.rows[i][0],
                                                     "lot_id": lot, "amount": amount})
                return params

            plan.add(movement_table.insert_sql(len(moves)), movement_params)
        ids = lambda: [row[0] for row in written.rows]  # noqa: E731
    set_columns(plan, Lot._meta.db_table, ("remaining", "state"), business_id, lot_changes)
    add_balances(plan, business_id, changes, covered=False)
    return ids


def _draft_in_one(business_id: int, entries: list[dict[str, Any]], lots: list[tuple[dict[str, Any], int]],
                  moves: list[tuple[int, int | None, int | None, int]]) -> tuple[str, list[Any]]:
    """PostgreSQL: a draft's entries, lots and movements in one statement, ids from the sequences inside it;
    answers (entry index, entry id) per entry."""
    entry_table, lot_table = table(Entry), table(Lot)
    params: list[Any] = []
    for i, entry in enumerate(entries):
        params += [i, *entry_table.values(entry)]
    for j, (lot, i) in enumerate(lots):
        params += [j, i, *lot_table.values(lot | {"origin_id": 0})]
    if moves:
        params.append(business_id)
        for k, move in enumerate(moves):
            params += (k, *move)
    return _draft_sql(len(entries), len(lots), len(moves)), params


@functools.cache
def _draft_sql(entries: int, lots: int, moves: int) -> str:
    entry_table, lot_table = table(Entry), table(Lot)
    quote = connection.ops.quote_name
    e_names = [f"e{i}" for i in range(len(entry_table.columns))]
    sql = (f"WITH e AS MATERIALIZED (SELECT {next_id_sql('postgresql', 'ledger_entry')} AS id, r.* FROM "
           "(VALUES " + ", ".join(["(CAST(%s AS integer), " + entry_table.typed_row_sql[1:]] * entries)
           + f") AS r(i, {', '.join(e_names)})), "
           f"ei AS (INSERT INTO {quote(entry_table.name)} (id, {entry_table.column_list}) "
           f"SELECT id, {', '.join(e_names)} FROM e ORDER BY id)")
    if lots:
        l_names = [f"l{i}" for i in range(len(lot_table.columns))]
        origin = lot_table.columns.index("origin_id")
        l_select = ["e.id" if i == origin else f"l.{name}" for i, name in enumerate(l_names)]
        sql += (f", l AS MATERIALIZED (SELECT {next_id_sql('postgresql', 'ledger_lot')} AS id, r.* FROM "
                "(VALUES " + ", ".join(["(CAST(%s AS integer), CAST(%s AS integer), " + lot_table.typed_row_sql[1:]]
                                       * lots)
                + f") AS r(j, i, {', '.join(l_names)})), "
                f"li AS (INSERT INTO {quote(lot_table.name)} (id, {lot_table.column_list}) "
                f"SELECT l.id, {', '.join(l_select)} FROM l JOIN e ON e.i = l.i ORDER BY l.id)")
    if moves:
        new_lot = "l.id" if lots else "NULL"
        join_lots = " LEFT JOIN l ON l.j = m.j" if lots else ""
        sql += (f", mi AS (INSERT INTO {quote(LotMovement._meta.db_table)} (business_id, entry_id, lot_id, amount) "
                f"SELECT CAST(%s AS bigint), e.id, COALESCE(m.lot, {new_lot}), m.amount FROM (VALUES "
                + ", ".join(["(CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS bigint), CAST(%s AS integer), "
                             "CAST(%s AS bigint))"] * moves)
                # in the order given, as SQLite's multi-row INSERT: a return restores the last taken first
                + f") AS m(k, i, lot, j, amount) JOIN e ON e.i = m.i{join_lots} ORDER BY m.k)")
    return sql + " SELECT i, id FROM e"


def member_lot_time(column: str) -> str:
    """A lot's time column as a read of one member's lots compares it: SQLite, without statistics, would take
    the business-wide lot_release_idx or lot_expiry_idx for the comparison and walk every due lot of the business
    (7x the cost of a balance read with 300 of them); the unary + is SQLite's way to keep a term off an index, so
    the read stays on the member's lot_member_state_idx. PostgreSQL chooses by its statistics."""
    return f"+{column}" if connection.vendor == "sqlite" else column


def read_lots(business_id: int, member_ids: list[int], at: dt.datetime, *, release: bool = True,
              expire: bool = True, open_in: str | None = None) -> list[StoredLot]:
    """The members' lots due by `at` (with `release` the pending ones released by then, with `expire` the open
    ones expired by then) and, with `open_in`, their open lots of that currency: a spend's or a write-down's
    load, in one statement whose every part is on lot_member_state_idx. A lot in two parts is answered once."""
    parts, params = [], []
    owners = f"business_id = %s AND member_id IN ({', '.join(['%s'] * len(member_ids))})"
    moment = connection.ops.adapt_datetimefield_value(at)
    available, expires = member_lot_time("available_at"), member_lot_time("expires_at")
    due = [(f"state = %s AND {available} <= %s", [Lot.State.PENDING, moment])] if release else []
    if expire:
        due.append((f"state = %s AND remaining > 0 AND {expires} <= %s", [Lot.State.OPEN, moment]))
    if due:
        parts.append(f"{owners} AND ({' OR '.join(f'({sql})' for sql, _ in due)})")
        params += [business_id, *member_ids, *(value for _, values in due for value in values)]
    if open_in is not None:
        parts.append(f"{owners} AND currency = %s AND state = %s AND remaining > 0")
        params += [business_id, *member_ids, open_in, Lot.State.OPEN]
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"{_LOT_SELECT} WHERE {part}" for part in parts), params)
        rows = cursor.fetchall()
    lots: dict[int, StoredLot] = {}
    for pk, member_id, currency, state, amount, remaining, created, available, expires, purchase, limits in rows:
        lots[pk] = StoredLot(pk, member_id, currency, state, amount, remaining, _moment(created),
                             _moment(available), _moment(expires), purchase, limits or "{}")
    return list(lots.values())


def _moment(value: Any) -> dt.datetime | None:
    """A moment as read by hand: SQLite answers text or a naive datetime (UTC), PostgreSQL an aware one."""
    if isinstance(value, str) or (value is not None and value.tzinfo is None):
        return connection.ops.convert_datetimefield_value(value, None, connection)
    return value


_LOT_SELECT = (f"SELECT id, member_id, currency, state, amount, remaining, created_at, available_at, expires_at, "
               f"purchase_id, CAST(restrictions AS TEXT) FROM {Lot._meta.db_table}")


def _every_balance(count: int, column: int | None = None) -> Callable[[Statement], None]:
    def check(statement: Statement) -> None:
        touched = statement.rowcount if column is None else (statement.rows[0][column] if statement.rows else 0)
        if count and touched != count:
            raise InsufficientBalance("insufficient_balance")
    return check


def _credits_in_one(business_id: int, entries: list[dict[str, Any]], lots: list[dict[str, Any]],
                    opened: list[int], changes: dict[int, int]) -> tuple[str, list[Any]]:
    """PostgreSQL: the entries, lots, movements and balances in one statement; answers (balances changed,
    entry id) per entry, in order."""
    entry_table, lot_table = table(Entry), table(Lot)
    params: list[Any] = []
    for entry, lot, amount in zip(entries, lots, opened, strict=True):
        params += entry_table.values(entry) + lot_table.values(lot | {"origin_id": 0}) + [amount]
    params.append(business_id)
    changes = {pk: change for pk, change in changes.items() if change}
    if changes:
        update, update_params = _balances(business_id, changes, returning=" RETURNING 1")
        params += update_params
    return _credits_sql(len(entries), update if changes else ""), params


@functools.cache
def _credits_sql(count: int, update: str) -> str:
    entry_table, lot_table = table(Entry), table(Lot)
    e_names = [f"e{i}" for i in range(len(entry_table.columns))]
    l_names = [f"l{i}" for i in range(len(lot_table.columns))]
    origin = lot_table.columns.index("origin_id")
    l_select = ["entry_id" if i == origin else name for i, name in enumerate(l_names)]
    row_sql = entry_table.typed_row_sql[:-1] + ", " + lot_table.typed_row_sql[1:-1] + ", CAST(%s AS bigint))"
    quote = connection.ops.quote_name
    sql = (
        f"WITH v AS MATERIALIZED (SELECT {next_id_sql('postgresql', 'ledger_entry')} AS entry_id, "
        f"{next_id_sql('postgresql', 'ledger_lot')} AS lot_id, "
        "r.* FROM (VALUES "
        + ", ".join([row_sql] * count) + f") AS r({', '.join(e_names + l_names)}, opened)), "
        f"e AS (INSERT INTO {quote(entry_table.name)} (id, {entry_table.column_list}) "
        f"SELECT entry_id, {', '.join(e_names)} FROM v ORDER BY entry_id), "
        f"l AS (INSERT INTO {quote(lot_table.name)} (id, {lot_table.column_list}) "
        f"SELECT lot_id, {', '.join(l_select)} FROM v ORDER BY lot_id), "
        f"m AS (INSERT INTO {quote(LotMovement._meta.db_table)} (business_id, entry_id, lot_id, amount) "
        "SELECT %s, entry_id, lot_id, opened FROM v WHERE opened <> 0 ORDER BY lot_id)")
    if update:
        return sql + f", u AS ({update}) SELECT (SELECT COUNT(*) FROM u), entry_id FROM v ORDER BY entry_id"
    return sql + " SELECT 0, entry_id FROM v ORDER BY entry_id"


def reversal_lots(business_id: int, member_id: int, purchase_id: int) -> tuple[str, list[Any]]:
    """A reversal's lots as one statement, for the caller's load (core.sql.read_all): the member's pending and
    open lots (taken NULL), then each lot the spends of purchase `purchase_id` took from with what they took,
    last taken first. Rows: (taken, read_lots' columns); reversal_lots_of reads them."""
    lot = "id, member_id, currency, state, amount, remaining, created_at, available_at, expires_at, purchase_id"
    joined = ", ".join(f"l.{column}" for column in lot.split(", "))
    sql = (f"SELECT CAST(NULL AS BIGINT) AS taken, CAST(NULL AS BIGINT) AS moved, {lot}, "
           f"CAST(restrictions AS TEXT) FROM {Lot._meta.db_table} WHERE business_id = %s AND member_id = %s AND "
           f"state IN (%s, %s) UNION ALL SELECT -m.amount, m.id, {joined}, CAST(l.restrictions AS TEXT) FROM "
           f"{LotMovement._meta.db_table} m JOIN {Entry._meta.db_table} e ON e.business_id = m.business_id AND "
           f"e.id = m.entry_id JOIN {Lot._meta.db_table} l ON l.business_id = m.business_id AND l.id = m.lot_id "
           "WHERE m.business_id = %s AND e.business_id = %s AND e.purchase_id = %s AND e.kind = %s AND "
           "m.amount < 0")
    return sql, [business_id, member_id, Lot.State.PENDING, Lot.State.OPEN, business_id, business_id, purchase_id,
                 Entry.Kind.SPEND]


def reversal_lots_of(rows: list[tuple]) -> tuple[list[StoredLot], list[tuple[StoredLot, int]]]:
    """reversal_lots' answer: the live lots, and the lots taken with what was taken, last taken first."""
    live, taken = [], []
    for amount, moved, pk, member_id, currency, state, size, remaining, created, available, expires, purchase, \
            limits in rows:
        lot = StoredLot(pk, member_id, currency, state, size, remaining, _moment(created), _moment(available),
                        _moment(expires), purchase, limits or "{}")
        if moved is None:
            live.append(lot)
        else:
            taken.append((moved, lot, amount))
    taken.sort(key=lambda row: -row[0])  # by movement id: the reverse of the spend's order, on every database
    return live, [(lot, amount) for _, lot, amount in taken]
