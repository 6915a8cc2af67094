"""The ledger's hand-written writes (issue 11): credits (their entries, the lots they open and the lots'
first movements) and the members' balances, as statements of a core.sql.WritePlan.

PostgreSQL: one statement for all of it, so the plan stays one round trip: the entries' and lots' ids are taken
from their sequences inside it (a data-modifying WITH), in the order given. SQLite: the entries, then the lots
(their origins from the ids the entries' INSERT ... RETURNING gave), then the movements and the balances, each a
multi-row statement in-process. Tested on both (tests/ledger, tests/purchases).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import connection

from vafa.core.errors import InsufficientBalance
from vafa.core.sql import Statement, WritePlan, table
from vafa.ledger.models import Account, Entry, Lot, LotMovement


def add_credits(plan: WritePlan, business_id: int, entries: list[dict[str, Any]], lots: list[dict[str, Any]],
                opened: list[int], changes: dict[int, int]) -> Callable[[], list[int]]:
    """Credits into `plan`: entries[i] opens lots[i] (its origin), which moves opened[i] into it unless 0; the
    member accounts' balances change by `changes` (account id → change). Answers a function that gives the
    entries' ids once the plan is written."""
    if connection.vendor == "postgresql":
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


def add_balances(plan: WritePlan, business_id: int, changes: dict[int, int]) -> None:
    """The member accounts' balances changed in one conditional UPDATE (ids in order, as every writer locks):
    a change that takes from a balance applies only while the balance covers it, so none goes below zero; the
    plan is refused (InsufficientBalance) when one did not apply."""
    changes = {pk: change for pk, change in changes.items() if change}
    if changes:
        sql, params = _balances(business_id, changes)
        plan.add(sql, params, check=_every_balance(len(changes)))


def _balances(business_id: int, changes: dict[int, int], returning: str = "") -> tuple[str, list[Any]]:
    ids = sorted(changes)
    case_params = [value for pk in ids for value in (pk, changes[pk])]
    return _balances_sql(len(ids), returning), [*case_params, business_id, *ids, *case_params, *case_params]


@functools.cache
def _balances_sql(count: int, returning: str) -> str:
    case_sql = "CASE id " + " ".join(["WHEN %s THEN %s"] * count) + " END"
    return (f"UPDATE {Account._meta.db_table} SET balance = balance + {case_sql} WHERE business_id = %s AND id IN "
            f"({', '.join(['%s'] * count)}) AND ({case_sql} >= 0 OR balance + {case_sql} >= 0){returning}")


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
        "WITH v AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) AS entry_id, "
        "nextval(pg_get_serial_sequence('ledger_lot', 'id')) AS lot_id, r.* FROM (VALUES "
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
