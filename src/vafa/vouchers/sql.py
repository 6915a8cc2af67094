"""The vouchers app's hand-written reads (issue 11): the codes a validation, a purchase or a purchase's dry run
asks about, each with its definition and (unlocked) the uses that limit it, and for a validation the caller's
guess count, in one statement whose text is built once per shape, without the ORM's compiling of a query at every
request (half of what a validation cost, most of what codes added to a dry run). Tested on both databases
(tests/vouchers, tests/purchases, tests/api)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, NamedTuple

from django.db import connection

from vafa.core.rows import columns
from vafa.vouchers.models import Redemption, Reservation, VoucherCode, VoucherDefinition


class Uses(NamedTuple):
    """What limits a code beside its own row: the live reservations of it that are not the member's own, and the
    member's redemptions of its definition (0 without a member)."""

    held_by_others: int
    member_uses: int


class Found(NamedTuple):
    code: VoucherCode  # its definition loaded
    uses: Uses | None  # None: not read (a locked read: they are read after the lock)


@functools.lru_cache(maxsize=128)
def _sql(vendor: str, count: int, lock: bool, uses: bool, member: bool, beside: str | None) -> str:
    quote = connection.ops.quote_name
    code, definition = columns(VoucherCode, "c"), columns(VoucherDefinition, "d")
    select = f"SELECT {code.sql}, {definition.sql}"
    if uses:  # on their indexes, both starting with business_id (reservation_code_idx, redemption_member_idx)
        select += (f", (SELECT COUNT(*) FROM {quote(Reservation._meta.db_table)} r WHERE r.business_id = c.business_id"
                   " AND r.code_id = c.id AND r.expires_at > %s"
                   + (" AND (r.member_id IS NULL OR r.member_id <> %s))" if member else ")"))
        select += (f", (SELECT COUNT(*) FROM {quote(Redemption._meta.db_table)} x WHERE x.business_id = c.business_id"
                   " AND x.definition_id = c.definition_id AND x.member_id = %s AND x.status = %s)" if member
                   else ", 0")
    if beside is not None:
        select += f", ({beside})"
    # the join on the business too: both rows are the business's, and a sharded database joins on it
    sql = (f"{select} FROM {quote(VoucherCode._meta.db_table)} c JOIN {quote(VoucherDefinition._meta.db_table)} d "
           "ON d.business_id = c.business_id AND d.id = c.definition_id "
           f"WHERE c.business_id = %s AND c.code IN ({', '.join(['%s'] * count)})")
    if lock:  # every code row (and its definition) in one order, so two purchases never wait in a cycle
        sql += " ORDER BY c.id" + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    return sql


def read_codes(business_id: int, codes: list[str], *, lock: bool = False,
               uses_of: tuple[int | None, dt.datetime] | None = None,
               beside: tuple[str, list] | None = None) -> tuple[dict[str, Found], Any]:
    """The business's codes (normalised, distinct) that exist, by code, each with its definition, in one
    statement. `lock`: the rows locked in id order (FOR UPDATE where the database has row locks; SQLite's
    transactions hold its write lock from BEGIN). `uses_of` (member id or None, now): each code's Uses read in
    the same statement (unlocked reads only: a locked read must count them after its lock). `beside`: one more
    value (sql, params) read as a subquery, answered second (None without it, or when no code exists)."""
    assert not (lock and uses_of), "the uses of a locked code are read after its lock"
    if not codes:
        return {}, None
    member_id, now = uses_of or (None, None)
    params: list[Any] = []
    if uses_of:  # the reservations' moment and member, then the redemptions' member and status
        params.append(connection.ops.adapt_datetimefield_value(now))
        if member_id is not None:
            params += [member_id, member_id, Redemption.Status.REDEEMED.value]
    if beside is not None:
        params += beside[1]
    sql = _sql(connection.vendor, len(codes), lock, uses_of is not None, member_id is not None,
               beside[0] if beside is not None else None)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, business_id, *codes])
        rows = cursor.fetchall()
    code_columns, definition_columns = columns(VoucherCode, "c"), columns(VoucherDefinition, "d")
    split, end = len(code_columns.fields), len(code_columns.fields) + len(definition_columns.fields)
    found = {}
    for row in rows:
        code = code_columns.instance(row[:split])
        code.definition = definition_columns.instance(row[split:end])
        found[code.code] = Found(code, Uses(int(row[end]), int(row[end + 1])) if uses_of else None)
    return found, rows[0][-1] if rows and beside is not None else None
