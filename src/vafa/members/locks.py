"""The member's row lock, apart from the services so that the modules the services call (referrals) take it too.

The hot path's read of the member (the lock, and the dry run's unlocked read) is one hand-written statement
(issue 11): the ORM spent more CPU building it than the purchase spends deciding. Its text is made once per
database and shape; the row becomes a Member by core.rows, exactly as the ORM would build it."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.transaction import TransactionManagementError

from vafa.core.errors import NotFound
from vafa.core.rows import columns
from vafa.core.sql import vendor
from vafa.members.models import Member


@cache
def _sql(vendor: str, lock: bool, token: bool) -> str:
    """The statement's text on this database. `lock`: FOR UPDATE where the database has row locks; SQLite has
    none (Django drops select_for_update there too): its transactions begin IMMEDIATE (settings), which
    serialises every writer instead. `token`: the business's cache token read in the same statement
    (program.cache), as a last column."""
    quote = connection.ops.quote_name
    select = columns(Member, "m").sql
    if token:
        business = Member._meta.get_field("business").related_model._meta.db_table  # type: ignore[union-attr]
        select += f", (SELECT b.cache_token FROM {quote(business)} b WHERE b.id = m.business_id)"
    sql = f"SELECT {select} FROM {quote(Member._meta.db_table)} m WHERE m.business_id = %s AND m.id = %s"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


def _statement(member_id: int, business_id: int, *, lock: bool, token: bool) -> tuple[str, list]:
    on = vendor()  # not connection.vendor and .features: each costs thread-local lookups (core.sql.vendor)
    if lock and _row_locks(on) and connection.get_autocommit():
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    return _sql(on, lock, token), [business_id, member_id]


@cache
def _row_locks(vendor: str) -> bool:
    return connection.features.has_select_for_update


def member_of(rows: list[tuple], *, token: bool) -> Member:
    """The Member of the statement's answer (lock_statement's, or read_statement's); NotFound when none."""
    if not rows:
        raise NotFound("member_not_found")
    member = columns(Member, "m").instance(rows[0])  # the token, a last column, is not the member's
    if token:
        member.cache_token = rows[0][-1]  # type: ignore[attr-defined]
    return member


def _member(member_id: int, business_id: int, *, lock: bool, token: bool) -> Member:
    sql, params = _statement(member_id, business_id, lock=lock, token=token)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return member_of(rows, token=token)


def lock_statement(member_id: int, business_id: int, *, token: bool = False) -> tuple[str, list]:
    """lock_member's statement and parameters, to send with the statements that follow it (core.sql.read_all,
    the purchase's load); `member_of(rows, token=token)` reads its answer."""
    return _statement(member_id, business_id, lock=True, token=token)


def lock_member(member_id: int, business_id: int, *, token: bool = False) -> Member:
    """Take the member's row lock: every write that touches a member's balances or counters holds it, so
    concurrent spends, returns and jobs for one member run one after another. `token`: the business's cache
    token read in the same statement, as `member.cache_token` (the purchase's, program.cache)."""
    return _member(member_id, business_id, lock=True, token=token)


def read_statement(member_id: int, business_id: int) -> tuple[str, list]:
    """The member with the business's cache token, unlocked (a dry run's read): the statement and parameters, to
    send with the statements that follow it (core.sql.read_all, a dry run's load); `member_of(rows, token=True)`
    reads its answer."""
    return _statement(member_id, business_id, lock=False, token=True)


def lock_members(member_ids: list[int], business_id: int) -> list[Member]:
    """lock_member for several members of a business, in one statement, in id order (as every writer locks).
    Answers those that exist."""
    return list(Member.objects.select_for_update().filter(pk__in=member_ids, business_id=business_id).order_by("pk"))
