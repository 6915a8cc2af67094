"""Bulk import for a business moving to Vafa: its members (with an opening points balance) and its purchase
history, from CSV files.

An import is one transaction. Every row is checked and every bad row is reported with its line number; when
any row is bad nothing is written. Rows that are already in Vafa (a member's mobile, a receipt at a branch)
are skipped, so running the same file twice imports it once.

Purchases stream: the file is read BATCH rows at a time, their members looked up by mobile for that batch only,
and receipts repeated within the file are found by the purchases table's own unique index (a receipt that
conflicts with a row this import wrote is a repeat; with an older row, it was already in Vafa), so memory does
not grow with the file. Rows are written even after a bad one, so that every repeat is found; the end rolls
them back.

Rows go to the database in batches without the ORM's per-row cost: PostgreSQL COPY, SQLite executemany. The
ledger's invariants hold as if each opening balance had been posted one by one: a balanced entry from the
business's adjustment account, the cached account balance, an open lot and the lot movement that fills it.

Imported purchases are history, not new activity: they count for tiers, visits, stamps and reports, but they
earn nothing. What they earned in the old system arrives once, as the member's opening balance; replaying
them through the program would pay it twice. Members are not notified (no outbox events): a migration is not
a sign-up.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput
from vafa.core.phone import normalize_mobile
from vafa.core.reasons import Reason, reason_fields
from vafa.core.validation import amount_problem
from vafa.ledger.models import Account, Entry, Lot, LotMovement
from vafa.ledger.services import business_account
from vafa.members.models import Member
from vafa.members.services import member_codes
from vafa.program.selectors import active_program
from vafa.purchases.counters import rebuild_counters
from vafa.purchases.models import ActivityCounter, Purchase, RewardEffect, Visit
from vafa.tenancy.models import Branch

BATCH = 20_000
IMPORT_CACHE_KIB = 128 * 1024  # SQLite's page cache during an import
MAX_REPORTED = 1000  # problems listed; the count covers all of them
MEMBER_COLUMNS = ("mobile", "first_name", "last_name", "email", "points", "joined_at")
PURCHASE_COLUMNS = ("receipt", "mobile", "branch", "occurred_at", "total")


@dataclass
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    skipped: int = 0  # already in Vafa
    opening_points: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0


class ImportRejected(Exception):
    """The file has bad rows; nothing was written."""

    def __init__(self, result: ImportResult):
        super().__init__(f"{result.problem_count} bad rows")
        self.result = result


# --- reading and checking -------------------------------------------------------------------------------


def _rows(lines: Iterable[str], columns: tuple[str, ...], required: set[str]) -> Iterator[tuple[int, tuple]]:
    """Each row's line number and its cells in the order of `columns`, stripped ("" for a column the file
    lacks or a short row leaves out); blank lines are skipped."""
    reader = csv.reader(lines)
    names = [name.strip() for name in next(reader, [])]
    missing, unknown = required - set(names), set(names) - set(columns)
    if missing or unknown:
        raise InvalidInput(errors=[{"field": name, "message": "missing_column"} for name in sorted(missing)]
                           + [{"field": name, "message": "unknown_column"} for name in sorted(unknown)])
    where = {name: i for i, name in enumerate(names)}  # a repeated column: its last cell, as before
    picks = [where.get(name, -1) for name in columns]
    full = len(names)
    pick = itemgetter(*picks) if len(picks) > 1 and min(picks) >= 0 else None
    strip = str.strip
    for cells in reader:
        if pick and len(cells) >= full:  # every column there: the usual row, taken without a loop in Python
            yield reader.line_num, tuple(map(strip, pick(cells)))
        elif cells:
            yield reader.line_num, tuple(cells[i].strip() if 0 <= i < len(cells) else "" for i in picks)


def _batches(rows: Iterator[tuple[int, tuple]], size: int) -> Iterator[list[tuple[int, tuple]]]:
    while batch := list(islice(rows, size)):
        yield batch


def _amount(text: str) -> tuple[int, str | None]:
    """An amount from a cell, and why it cannot be taken (checked like every other amount), or None."""
    if len(text) < 16 and text.isascii() and text.isdigit():  # the usual cell, always under MAX_AMOUNT
        return int(text), None
    text = to_ascii_digits(text)
    # ASCII digits only: "²".isdigit() is true and int("²") fails.
    if not (text.isascii() and text.isdigit()):
        return 0, "must_be_whole_non_negative"
    if len(text.lstrip("0")) > 20:  # past any amount, and before int() of thousands of digits
        return 0, "too_large"
    value = int(text)
    return value, amount_problem(value)


def _moment(text: str, zone: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """ISO date (midnight in the business's time zone) or date-time (naive ones in that zone); never future."""
    try:
        value = dt.datetime.fromisoformat(to_ascii_digits(text))
    except ValueError:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=zone)
    return value if value <= now else None


class _Collector:
    def __init__(self, result: ImportResult):
        self.result = result

    def add(self, line: int, name: str, message: str) -> None:
        self.result.problem_count += 1
        if len(self.result.problems) < MAX_REPORTED:
            self.result.problems.append(Problem(line, name, message))


# --- writing --------------------------------------------------------------------------------------------


def _reserve_ids(model, count: int) -> list[int]:
    """Primary keys for rows that refer to each other, taken before they are written."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Taken before the ids, as an insert would: the report_rollups job reads its marks (the newest
            # ids) under a SHARE lock, so it waits for this import instead of passing ids not yet written.
            cursor.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [model._meta.db_table, count])
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction holds the write lock from BEGIN (IMMEDIATE), so nobody else takes these.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


@lru_cache(maxsize=4096)  # a file's dates repeat: each converted once
def _naive_utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


class _Table:
    """A model's columns in a fixed order: the varying ones given per row, the rest constant for the import
    (given, or the field's default), each converted for the database once."""

    def __init__(self, model, varying: list[str], constants: dict):
        self.model = model
        self.fields = {f.attname: f for f in model._meta.concrete_fields}
        self.varying = varying
        fixed = [name for name in self.fields if name not in varying and name != "id"]
        self.columns = varying + fixed
        self.constants = tuple(self.prep(name, constants[name] if name in constants else
                                         self.fields[name].get_default()) for name in fixed)
        kinds = [self.fields[name].get_internal_type() for name in varying]
        # Django's per-value conversion costs more than the rest of a row; aware datetimes are converted here
        # directly (psycopg takes them as they are; SQLite stores naive UTC text, as Django does).
        # (The vendor is read once here: `connection` is a per-thread proxy, costly to ask per value.)
        as_stored = None if connection.vendor == "postgresql" else _naive_utc
        self.converters = [as_stored if kind == "DateTimeField" else
                           (lambda v, name=name: self.prep(name, v)) if kind == "JSONField" else None
                           for name, kind in zip(varying, kinds, strict=True)]
        if not any(self.converters):
            self.converters = []

    def prep(self, name: str, value):
        return self.fields[name].get_db_prep_value(value, connection, prepared=False)

    @staticmethod
    def _datetime(value: dt.datetime):
        return value if connection.vendor == "postgresql" else _naive_utc(value)

    def row(self, values: tuple) -> tuple:
        if self.converters:
            values = tuple(convert(v) if convert else v for convert, v in zip(self.converters, values, strict=True))
        return values + self.constants

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        table = connection.ops.quote_name(self.model._meta.db_table)
        full = [self.row(values) for values in rows]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({self.names()}) FROM STDIN") as copy:
                    for values in full:
                        copy.write_row(values)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({self.names()}) VALUES ({marks})", full)

    def names(self) -> str:
        return ", ".join(connection.ops.quote_name(self.fields[n].column) for n in self.columns)


# --- members --------------------------------------------------------------------------------------------


def import_members(business, lines: Iterable[str], *, actor: Actor = SYSTEM, source: str = "") -> ImportResult:
    """Members from CSV (mobile, and optionally first_name, last_name, email, points, joined_at). A mobile that
    is already a member is skipped; `points` becomes an opening balance that expires like earned points.
    Streams like the purchases: a batch of rows at a time, each batch's mobiles and codes looked up for that
    batch only (_FirstLines, the members table), so memory does not grow with the file or the business."""
    result = ImportResult()
    problems = _Collector(result)
    now = timezone.now()
    zone = ZoneInfo(business.timezone)
    _, document = active_program(business)
    tier = document.tiers.levels[0].code if document.tiers else ""
    expiry_days = document.settings.currency("points").expiry_days
    expires_at = now + dt.timedelta(days=expiry_days) if expiry_days else None
    reason = Reason("import.opening_balance")
    with _page_cache(), transaction.atomic():
        members = _Table(Member, ["id", "mobile", "code", "first_name", "last_name", "email", "joined_at",
                                  "tier_since"],
                         {"business_id": business.pk, "tier": tier, "join_source": source[:100] or "import",
                          "status": Member.Status.ACTIVE, "updated_at": now, "interests": []})
        adjustment = business_account(business.pk, "points", Account.Kind.ADJUSTMENT)
        opening = _OpeningBalances(business, adjustment, reason, now, expires_at, actor)
        first_lines = _FirstLines()
        # A business's first import (the usual case) has no member to skip: no lookup per batch.
        had_members = Member.objects.filter(business=business).exists()
        moments: dict[str, dt.datetime | None] = {}  # joined_at as written → as read: dates repeat a lot
        for batch in _batches(_rows(lines, MEMBER_COLUMNS, {"mobile"}), BATCH):
            found: list[Problem] = []
            checked: list[tuple] = []  # (line, mobile, good, values)
            for line, (raw_mobile, first_name, last_name, email, raw_points, raw_joined) in batch:
                bad = len(found)
                try:
                    mobile = normalize_mobile(raw_mobile, business.phone_region)
                except InvalidInput as exc:
                    found.append(Problem(line, "mobile", exc.errors[0]["message"]))
                    mobile = ""
                for name, value in (("first_name", first_name), ("last_name", last_name)):
                    if len(value) > 100:
                        found.append(Problem(line, name, "too_long"))
                if email:
                    try:
                        validate_email(email)
                    except DjangoValidationError:
                        found.append(Problem(line, "email", "not_an_email"))
                points, problem = _amount(raw_points or "0")
                if problem:
                    found.append(Problem(line, "points", problem))
                if raw_joined in moments:
                    joined = moments[raw_joined]
                else:
                    if len(moments) > BATCH:
                        moments.clear()
                    joined = moments[raw_joined] = _moment(raw_joined, zone, now) if raw_joined else now
                if joined is None:
                    found.append(Problem(line, "joined_at", "bad_or_future_date"))
                if mobile:
                    checked.append((line, mobile, len(found) == bad, (first_name, last_name, email, joined, points)))
            result.rows += len(batch)
            # A mobile's first good line, in an earlier batch or earlier in this one: a later line repeats it.
            first = first_lines.lines({mobile for _, mobile, _, _ in checked})
            new: list[tuple] = []
            for line, mobile, good, values in checked:
                if mobile in first:
                    found.append(Problem(line, "mobile", f"repeated_from_line_{first[mobile]}"))
                elif good:
                    first[mobile] = line
                    new.append((line, mobile, values))
            first_lines.add([(mobile, line) for line, mobile, _ in new])
            for problem in sorted(found, key=lambda p: p.line):  # a line's own problems stay in column order
                problems.add(problem.line, problem.field, problem.message)
            if result.problem_count:
                continue  # nothing more is written (it would be rolled back); repeats are still found
            there = _members_by_mobile(business, {mobile for _, mobile, _ in new}) if had_members else {}
            result.skipped += len(there)
            rows = [(mobile, *values) for _, mobile, values in new if mobile not in there]
            _write_members(business, members, opening, rows, tier, result)
        if result.problem_count:
            raise ImportRejected(result)  # leaving the block rolls back the batches already written
        first_lines.close()
        _analyze(Member, Account, Entry, Lot, LotMovement)
    return result


def _write_members(business, members: _Table, opening: _OpeningBalances, batch: list[tuple], tier: str,
                   result: ImportResult) -> None:
    if not batch:
        return
    codes = _new_codes(business, len(batch))
    ids = _reserve_ids(Member, len(batch))
    members.write([(pk, mobile, code, first, last, email, joined, joined if tier else None)
                   for pk, code, (mobile, first, last, email, joined, _) in zip(ids, codes, batch, strict=True)])
    result.created += len(batch)
    opening.write([(pk, points) for pk, row in zip(ids, batch, strict=True) if (points := row[-1])])
    result.opening_points += sum(row[-1] for row in batch)


def _new_codes(business, count: int) -> list[str]:
    """`count` member codes, different from each other and from every code of the business (looked up for
    these codes only: the business's codes are not held in memory)."""
    codes: set[str] = set()
    while len(codes) < count:
        fresh = set(member_codes(count - len(codes))) - codes
        codes |= fresh - _taken_codes(business, fresh)
    return list(codes)


def _taken_codes(business, codes: set[str]) -> set[str]:
    return set(_lookup(f"SELECT code, id FROM {connection.ops.quote_name(Member._meta.db_table)} "
                       "WHERE business_id = %s AND code IN", [business.pk], codes))


class _FirstLines:
    """The line of the file where each mobile first appeared in a good row (imported, or skipped as already in
    Vafa), in a temporary table keyed by mobile (on disk like the purchases' stage): a later line with the same
    mobile repeats it, however far apart the two are."""

    TABLE = "vafa_import_mobiles"

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
            cursor.execute(f"CREATE TEMP TABLE {self.TABLE} (mobile varchar(32) PRIMARY KEY, line integer NOT NULL)"
                           + ("" if self.postgres else " WITHOUT ROWID"))

    def lines(self, mobiles: set[str]) -> dict[str, int]:
        return _lookup(f"SELECT mobile, line FROM {self.TABLE} WHERE mobile IN", [], mobiles)

    def add(self, rows: list[tuple[str, int]]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {self.TABLE} (mobile, line) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {self.TABLE} (mobile, line) VALUES (%s, %s)", rows)

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.TABLE}")


class _OpeningBalances:
    """Each opening balance: the member's available points account, a balanced entry from the business's
    adjustment account, an open lot holding it and the movement that filled the lot."""

    def __init__(self, business, adjustment: Account, reason: Reason, now: dt.datetime, expires_at, actor: Actor):
        self.adjustment = adjustment
        common = {"business_id": business.pk, "currency": "points"}
        self.accounts = _Table(Account, ["id", "member_id", "code", "balance"],
                               common | {"kind": Account.Kind.AVAILABLE})
        self.entries = _Table(Entry, ["id", "member_id", "credit_id", "amount"],
                              common | {"kind": Entry.Kind.ADJUST, "debit_id": adjustment.pk, "source": "import",
                                        "created_at": now} | reason_fields(reason) | actor.fields())
        self.lots = _Table(Lot, ["id", "member_id", "origin_id", "amount", "remaining"],
                           common | {"state": Lot.State.OPEN, "created_at": now, "expires_at": expires_at,
                                     "restrictions": {}})
        self.movements = _Table(LotMovement, ["entry_id", "lot_id", "amount"], {"business_id": business.pk})

    def write(self, balances: list[tuple[int, int]]) -> None:
        if not balances:
            return
        n = len(balances)
        accounts, entries, lots = _reserve_ids(Account, n), _reserve_ids(Entry, n), _reserve_ids(Lot, n)
        self.accounts.write([(a, m, f"m:{m}:points:available", p)
                             for a, (m, p) in zip(accounts, balances, strict=True)])
        self.entries.write([(e, m, a, p) for e, a, (m, p) in zip(entries, accounts, balances, strict=True)])
        self.lots.write([(lot, m, e, p, p) for lot, e, (m, p) in zip(lots, entries, balances, strict=True)])
        self.movements.write([(e, lot, p) for e, lot, (_, p) in zip(entries, lots, balances, strict=True)])



# --- purchases ------------------------------------------------------------------------------------------


def import_purchases(business, lines: Iterable[str], *, actor: Actor = SYSTEM) -> ImportResult:
    """Purchase history from CSV (receipt, mobile, branch, occurred_at, total in minor units). A receipt already
    recorded at its branch is skipped. The purchases count for tiers and reports; they earn nothing."""
    result = ImportResult()
    problems = _Collector(result)
    now = timezone.now()
    zone = ZoneInfo(business.timezone)
    version, _ = active_program(business)
    with _page_cache(), transaction.atomic():
        branches = dict(Branch.objects.filter(business=business).values_list("code", "id"))
        purchases = _Purchases(business, version.version, now, actor)
        moments: dict[str, object] = {}  # occurred_at as written → as stored (or None): dates repeat a lot
        for batch in _batches(_rows(lines, PURCHASE_COLUMNS, set(PURCHASE_COLUMNS)), BATCH):
            members = _member_ids(business, {row[1] for _, row in batch})
            found: list[Problem] = []
            good: dict[tuple[int, str], tuple] = {}
            for line, (receipt, mobile, branch, occurred_at, amount) in batch:
                bad = len(found)
                member_id = members.get(mobile)
                if member_id is None:
                    found.append(Problem(line, "mobile", "member_not_found"))
                branch_id = branches.get(branch)
                if branch_id is None:
                    found.append(Problem(line, "branch", "unknown_branch"))
                if not receipt or len(receipt) > 64:
                    found.append(Problem(line, "receipt", "required" if not receipt else "too_long"))
                if occurred_at in moments:
                    at = moments[occurred_at]
                else:
                    if len(moments) > BATCH:
                        moments.clear()
                    at = moments[occurred_at] = _Purchases.stored_moment(_moment(occurred_at, zone, now))
                if at is None:
                    found.append(Problem(line, "occurred_at", "bad_or_future_date"))
                total, problem = _amount(amount)
                if problem:
                    found.append(Problem(line, "total", problem))
                if len(found) > bad:
                    continue
                key = (branch_id, receipt)
                if key in good:
                    found.append(Problem(line, "receipt", "repeated_in_file"))
                    continue
                good[key] = (line, member_id, branch_id, receipt, at, total)
            result.rows += len(batch)
            # Written even when the file is already known to be bad: later repeats are found against them.
            result.created += purchases.write(list(good.values()), found)
            for problem in sorted(found, key=lambda p: p.line):  # a line's own problems stay in column order
                problems.add(problem.line, problem.field, problem.message)
        if result.problem_count:
            raise ImportRejected(result)  # leaving the block rolls back the batches already written
        purchases.close()
        result.skipped = result.rows - result.created
        if result.created:  # the tier metric and counts read counters kept per member and day
            rebuild_counters(ActivityCounter, Purchase, Visit, RewardEffect, business.pk, purchases_only=True)
        _analyze(Purchase)
    return result


def _member_ids(business, mobiles: set[str]) -> dict[str, int]:
    """Member ids by mobile as the file writes it: as stored, or once normalized."""
    found = _members_by_mobile(business, mobiles)
    normalized = {}
    for raw in mobiles - found.keys():
        try:
            normalized[raw] = normalize_mobile(raw, business.phone_region)
        except InvalidInput:
            pass
    if normalized:
        by_normal = _members_by_mobile(business, set(normalized.values()))
        found |= {raw: by_normal[mobile] for raw, mobile in normalized.items() if mobile in by_normal}
    return found


def _members_by_mobile(business, mobiles: set[str]) -> dict[str, int]:
    return _lookup(f"SELECT mobile, id FROM {connection.ops.quote_name(Member._meta.db_table)} "
                   "WHERE business_id = %s AND mobile IN", [business.pk], mobiles)


def _lookup(query: str, params: list, keys: set[str]) -> dict:
    """`query` (ending in "IN") for these keys, in chunks the database takes: its two columns as a dict. Raw SQL:
    the ORM took longer to build the query than to run it."""
    found: dict = {}
    wanted = iter(keys)
    size = min(connection.features.max_query_params or 10_000, 10_000) - len(params)
    with connection.cursor() as cursor:
        while chunk := list(islice(wanted, size)):
            cursor.execute(f"{query} ({', '.join(['%s'] * len(chunk))})", [*params, *chunk])
            found |= dict(cursor.fetchall())
    return found


class _Purchases:
    """Writes checked purchases a batch at a time through a temporary staging table (COPY or executemany of
    the six columns that vary), then one INSERT … SELECT … ON CONFLICT DO NOTHING adds the constant columns.
    When fewer rows went in than were staged, the purchases table's unique receipt index tells why: a staged
    receipt that met a row written by an earlier batch of this import (its created_at, an id between the
    largest before the import and the batch's first) repeats an earlier line of the file; one that met an older
    row is skipped and its key kept in a second temporary table (on disk, like the first), so that a later line
    repeating it is still a repeat."""

    STAGE = "vafa_import_purchases"
    SKIPPED = "vafa_import_skipped"
    STAGED = ("line", "member_id", "branch_id", "receipt", "occurred_at", "total")

    def __init__(self, business, version: int, now: dt.datetime, actor: Actor):
        self.business_id = business.pk
        self.table = _Table(Purchase, ["member_id", "branch_id", "receipt", "occurred_at", "total", "payable",
                                       "spend"],
                            {"business_id": business.pk, "channel": "import", "status": Purchase.Status.COMPLETED,
                             "program_version": version, "units": {}, "fingerprint": "import",
                             "result": {"imported": True}, "created_at": now} | actor.fields())
        self.created_at = self.table.prep("created_at", now)
        self.postgres = connection.vendor == "postgresql"
        purchases = connection.ops.quote_name(Purchase._meta.db_table)
        fixed = self.table.columns[len(self.table.varying):]
        # PostgreSQL would read an untyped constant in a SELECT list as text (and refuse it for jsonb).
        marks = [f"CAST(%s AS {self.table.fields[n].db_type(connection)})" if self.postgres else "%s" for n in fixed]
        self.insert = (f"INSERT INTO {purchases} ({self.table.names()}) SELECT member_id, branch_id, receipt, "
                       f"occurred_at, total, total, total, {', '.join(marks)} FROM {self.STAGE} "
                       "WHERE 1 = 1 ORDER BY line ON CONFLICT DO NOTHING")  # WHERE: SQLite's parser needs one
        # After the insert, each staged row that was not written probes the unique index for the row it met
        # (0: older than this import, already in Vafa; 1: written by an earlier batch, a repeat; 2: this batch).
        # A subquery in the SELECT list: a join let PostgreSQL, planning with the table's size from before the
        # import, hash every purchase of the business per batch.
        met = (f"(SELECT CASE WHEN NOT (p.created_at = %s AND p.id > %s) THEN 0 WHEN p.id < %s THEN 1 ELSE 2 END "
               f"FROM {purchases} p WHERE p.business_id = %s AND p.branch_id = s.branch_id AND p.receipt = s.receipt)")
        self.conflicts = f"SELECT line, met FROM (SELECT s.line, {met} AS met FROM {self.STAGE} s) c WHERE met < 2"
        self.skipped_before = (f"SELECT line FROM (SELECT s.line, (SELECT 1 FROM {self.SKIPPED} k WHERE "
                               "k.branch_id = s.branch_id AND k.receipt = s.receipt) AS hit "
                               f"FROM {self.STAGE} s) c WHERE hit IS NOT NULL")
        self.skip = (f"INSERT INTO {self.SKIPPED} (branch_id, receipt) SELECT branch_id, receipt FROM "
                     f"(SELECT s.branch_id, s.receipt, {met} AS met FROM {self.STAGE} s) c WHERE met = 0 "
                     "ON CONFLICT DO NOTHING")
        # An id below every id of the batch about to be written and above every earlier one of this import.
        self.floor = (f"SELECT nextval(pg_get_serial_sequence('{Purchase._meta.db_table}', 'id'))" if self.postgres
                      else f"SELECT COALESCE(MAX(id), 0) + 1 FROM {purchases}")
        with connection.cursor() as cursor:
            for name, columns in ((self.STAGE, "0 AS line, member_id, branch_id, receipt, occurred_at, total"),
                                  (self.SKIPPED, "branch_id, receipt")):
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
                cursor.execute(f"CREATE TEMP TABLE {name} AS SELECT {columns} FROM {purchases} WHERE 1 = 0")
            cursor.execute(f"CREATE UNIQUE INDEX {self.SKIPPED}_key ON {self.SKIPPED} (branch_id, receipt)")
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {purchases}")
            self.before = cursor.fetchone()[0]

    @staticmethod
    def stored_moment(value: dt.datetime | None):
        return None if value is None else _Table._datetime(value)

    def write(self, rows: list[tuple], problems: list[Problem]) -> int:
        """Stage and insert the rows; a repeat of an earlier line goes to `problems`. Answers how many rows
        were written (the rest were already in Vafa, or repeats)."""
        if not rows:
            return 0
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute(f"TRUNCATE {self.STAGE}")
                with cursor.cursor.copy(f"COPY {self.STAGE} ({', '.join(self.STAGED)}) FROM STDIN") as copy:
                    for values in rows:
                        copy.write_row(values)
            else:
                cursor.execute(f"DELETE FROM {self.STAGE}")
                cursor.executemany(f"INSERT INTO {self.STAGE} VALUES (%s, %s, %s, %s, %s, %s)", rows)
            cursor.execute(self.floor)
            met = [self.created_at, self.before, cursor.fetchone()[0], self.business_id]
            cursor.execute(self.insert, self.table.constants)
            written = cursor.rowcount
            if written < len(rows):  # some met a receipt there already: repeats, or skipped as already in Vafa
                cursor.execute(self.conflicts, met)
                conflicts = cursor.fetchall()
                repeats = [line for line, kind in conflicts if kind == 1]
                if len(repeats) < len(conflicts):  # already in Vafa: skipped, unless skipped on an earlier line
                    cursor.execute(self.skipped_before)
                    repeats += [line for (line,) in cursor.fetchall()]
                    cursor.execute(self.skip, met)
                problems += [Problem(line, "receipt", "repeated_in_file") for line in repeats]
            return written

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.STAGE}")
            cursor.execute(f"DROP TABLE {self.SKIPPED}")


@contextmanager
def _page_cache():
    """SQLite keeps 2 MB of pages by default: a large import then reads the receipt index from disk for every
    row. 128 MB (bounded, whatever the file's size): 100,000 purchases in-process went from 15,900/s to 20,200/s
    in one run on the shared machine (docs/benchmarks.md)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _analyze(*models) -> None:
    """Fresh planner statistics for the tables a bulk import filled. Until autovacuum gets to them PostgreSQL
    plans with the old row counts: a member's history, newest first, then walked the primary key backwards
    through 8 million purchases (3.6 s) instead of using the member's index (docs/benchmarks.md). SQLite has no
    statistics until ANALYZE runs at all: at a million members it read a member's open lots through the
    business's expiry index, 300,000 lots for one member's page (120 ms instead of 0.1 ms)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def read_lines(path: str) -> Iterator[str]:
    """The file's lines, for the importers: CSV (UTF-8, with or without a byte-order mark), or the first sheet
    of an Excel workbook (.xlsx) read row by row (openpyxl's read-only mode) and given as CSV lines, one per
    row, so that line numbers are the sheet's row numbers."""
    if path.lower().endswith(".xlsx"):
        yield from _xlsx_lines(path)
        return
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from handle


def _xlsx_lines(path: str) -> Iterator[str]:
    from openpyxl import load_workbook  # only for workbooks: it takes a while to import

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        out = io.StringIO()
        writer = csv.writer(out)
        for row in book.active.iter_rows(values_only=True):
            writer.writerow(["" if cell is None else str(cell) for cell in row])  # as the import wizard reads them
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    finally:
        book.close()

