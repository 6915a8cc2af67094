"""Fixed-window counters in the database (core.models.RateCounter), shared by every worker process: one
upsert per hit, one indexed read per check. A window is `window` seconds aligned on the epoch, so a subject's
row is reset in place when a new window begins instead of growing a row per window."""

from __future__ import annotations

import time

from django.db import connection

from vafa.core.models import RateCounter


def window_start(window: int, now: float | None = None) -> int:
    moment = int(time.time() if now is None else now)
    return moment - moment % window


def hit(business_id: int, subject: str, window: int, now: float | None = None, count: int = 1) -> int:
    """Count `count` hits (one, or a block a process takes at once) for `subject` in the current window and
    answer the window's count so far."""
    start = window_start(window, now)
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        # One statement, atomic on both databases: two processes never lose each other's hits.
        cursor.execute(
            f"INSERT INTO {table} (business_id, subject, window_start, hits) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (business_id, subject) DO UPDATE SET "
            f"hits = CASE WHEN {table}.window_start = excluded.window_start THEN {table}.hits + excluded.hits "
            f"ELSE excluded.hits END, "
            f"window_start = excluded.window_start RETURNING hits",
            [business_id, subject[:80], start, count])
        return int(cursor.fetchone()[0])


def hits(business_id: int, subjects: list[str], window: int, now: float | None = None) -> int:
    """The highest count among `subjects` in the current window (0 when none has a hit in it)."""
    sql, params = hits_query(business_id, subjects, window, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def hits_query(business_id: int, subjects: list[str], window: int, now: float | None = None) -> tuple[str, list]:
    """hits' statement, as (sql, params): one value, to read beside another row as a subquery."""
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    marks = ", ".join(["%s"] * len(subjects))
    return (f"SELECT COALESCE(MAX(hits), 0) FROM {table} WHERE business_id = %s AND subject IN ({marks}) AND "
            f"window_start = %s", [business_id, *(s[:80] for s in subjects), window_start(window, now)])
