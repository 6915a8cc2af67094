"""The vouchers app's hand-written reads (issue 11): the validation's read of a code, its definition and the
caller's guess count in one statement, and a purchase's (or its dry run's) read of its codes with their
definitions, each statement's text built once, without the ORM's compiling of a query at every request (half
of what a validation cost, most of what codes added to a dry run). Tested on both databases (tests/vouchers,
tests/purchases, tests/api)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection

from vafa.core.rows import Columns, columns
from vafa.vouchers.models import VoucherCode, VoucherDefinition


@functools.cache
def _code_read(vendor: str) -> tuple[Columns, Columns, str, str]:
    """The columns of a code and its definition, the SELECT list, and the FROM … WHERE on the business's codes
    (the join on the business too: both tables are the business's, and a sharded database joins on it)."""
    code, definition = columns(VoucherCode, "c"), columns(VoucherDefinition, "d")
    tables = (f"FROM {connection.ops.quote_name(VoucherCode._meta.db_table)} c JOIN "
              f"{connection.ops.quote_name(VoucherDefinition._meta.db_table)} d "
              "ON d.business_id = c.business_id AND d.id = c.definition_id WHERE c.business_id = %s AND c.code")
    return code, definition, f"SELECT {code.sql}, {definition.sql}", tables


def _with_definition(row: Sequence[Any]) -> VoucherCode:
    code_columns, definition_columns, _, _ = _code_read(connection.vendor)
    split = len(code_columns.fields)
    found = code_columns.instance(row[:split])
    found.definition = definition_columns.instance(row[split:split + len(definition_columns.fields)])
    return found


def code_with_definition(business_id: int, code: str,
                         beside: tuple[str, list] | None = None) -> tuple[VoucherCode | None, Any]:
    """The business's code (normalised) with its definition loaded, and the one value `beside`'s (sql, params)
    answers, read as a subquery in the same statement (None without it, or when the code does not exist)."""
    _, _, select, tables = _code_read(connection.vendor)
    params: list[Any] = [business_id, code]
    if beside is not None:
        select = f"{select}, ({beside[0]})"
        params = [*beside[1], *params]
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {tables} = %s", params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    return _with_definition(row), row[-1] if beside is not None else None


@functools.lru_cache(maxsize=64)
def _codes_sql(vendor: str, count: int, lock: bool) -> str:
    _, _, select, tables = _code_read(vendor)
    sql = f"{select} {tables} IN ({', '.join(['%s'] * count)})"
    if lock:  # every code row (and its definition) in one order, so two purchases never wait in a cycle
        sql += " ORDER BY c.id" + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    return sql


def codes_with_definitions(business_id: int, codes: list[str], *, lock: bool = False) -> dict[str, VoucherCode]:
    """The business's codes (normalised, distinct) that exist, each with its definition loaded, by code: one
    statement whose text is made once per number of codes. `lock`: the rows locked (FOR UPDATE where the
    database has row locks; SQLite's transactions hold its write lock from BEGIN) in id order."""
    if not codes:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_codes_sql(connection.vendor, len(codes), lock), [business_id, *codes])
        rows = cursor.fetchall()
    return {found.code: found for found in map(_with_definition, rows)}
