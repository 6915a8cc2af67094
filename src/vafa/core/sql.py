"""The hot path's writes as hand-written SQL (issue 11): a use case decides a plan — the rows to insert per
table, the balances to change — and `WritePlan.write` sends it, on PostgreSQL in one round trip (psycopg's
pipeline mode), on SQLite statement after statement in-process.

Why not the ORM here: a purchase's dozen `bulk_create`s and `save`s spent a third of its CPU compiling INSERTs
(Model.__init__, as_sql, get_db_prep_save per value). A `Table` reads a model's concrete columns and how each
value goes to the database once per process; a multi-row INSERT's text is built once per (table, row count)
and cached. The ORM stays for everything else (screens, reports, the admin, the rare paths of a purchase).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Model
from django.utils import timezone

# values the database drivers take as they are (psycopg and sqlite3 adapt str, int, bool and None themselves, and
# Django's fields give them on as they are: a foreign key's value is its id)
_AS_THEY_ARE = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "CharField", "TextField",
    "SlugField", "BooleanField", "ForeignKey", "OneToOneField",
})
_NO_DEFAULT = object()


class Table:
    """A model's concrete columns (its id left out: the database gives it) and, per column, its default and how
    a value is adapted for the current database. Built once per model and database vendor (table())."""

    def __init__(self, model: type[Model], with_id: bool = False):
        fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
        self.name = model._meta.db_table
        self.columns = [f.column for f in fields]
        self.attnames = [f.attname for f in fields]
        self.defaults: list[Any] = []
        self.adapters: list[Callable[[Any], Any] | None] = []
        for f in fields:
            if f.has_default():
                self.defaults.append(f.default if callable(f.default) else (lambda value=f.default: value))
            elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
                self.defaults.append(timezone.now)
            else:
                self.defaults.append((lambda: None) if f.null else None)
            self.adapters.append(adapter(f, connection.vendor))
        self.nulls = [f.null for f in fields]
        self._columns = list(zip(self.attnames, self.defaults, self.adapters, self.nulls, strict=True))
        self.column_list = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        self.row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # the same with each value cast to its column's type: for VALUES read by an INSERT ... SELECT, where an
        # untyped literal would be text (PostgreSQL)
        self.typed_row_sql = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields) + ")"

    def values(self, row: dict[str, Any]) -> list[Any]:
        """The row's parameters in column order: missing columns (or None in a column that takes no NULL) take
        their default; a required one missing is a bug."""
        out = []
        get = row.get
        for name, default, adapt, null in self._columns:
            value = get(name, _NO_DEFAULT)
            if value is _NO_DEFAULT or (value is None and not null):
                if default is None:
                    raise KeyError(f"{self.name}.{name} is required")
                value = default()
            out.append(value if adapt is None or value is None else adapt(value))
        return out

    def adapt(self, name: str, value: Any) -> Any:
        """One column's value as the database takes it (for an UPDATE's SET)."""
        adapt = self.adapters[self.attnames.index(name)]
        return value if adapt is None or value is None else adapt(value)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Table per model for the process's life
    def insert_sql(self, rows: int, returning: bool = False) -> str:
        """`INSERT INTO t (columns) VALUES (...), (...)` for `rows` rows, optionally answering their ids."""
        return (f"INSERT INTO {connection.ops.quote_name(self.name)} ({self.column_list}) VALUES "
                + ", ".join([self.row_sql] * rows) + (" RETURNING id" if returning else ""))


def adapter(f, vendor: str) -> Callable[[Any], Any] | None:
    """How a (non-None) value of field `f` goes to the `vendor` database: what `f.get_db_prep_save` gives, by
    a plain function for the values a plan holds (a dict or list for JSON, an aware datetime, a date, a UUID, a
    Decimal, an address), and by the field's own way for anything else. None: as it is.

    Why: the field's way (get_prep_value, to_python, the backend's adapt_*, each a few calls deep) cost a
    purchase's write plan most of its CPU. The same bytes either way: tests/core/test_sql.py compares them for
    every model a plan writes, on both databases."""
    kind = f.get_internal_type()
    if kind in _AS_THEY_ARE:
        return None
    own = functools.partial(f.get_db_prep_save, connection=connection)
    postgres = vendor == "postgresql"
    if kind == "JSONField":
        if postgres:
            # PostgreSQL's backend and driver: imported only where they are installed and used
            from django.db.backends.postgresql.operations import get_json_dumps
            from psycopg.types.json import Jsonb

            dumps = get_json_dumps(f.encoder)
            return lambda value: Jsonb(value, dumps) if type(value) in _JSON_CONTAINERS else own(value)
        encoder = f.encoder  # json.dumps(value, cls=None) is json.dumps(value): its cached default encoder
        return lambda value: json.dumps(value, cls=encoder) if type(value) in _JSON_CONTAINERS else own(value)
    if kind == "DateTimeField":
        if postgres:  # psycopg takes an aware datetime as it is; a naive one the field makes aware (and warns)
            return lambda value: value if type(value) is datetime and value.utcoffset() is not None else own(value)
        zone = connection.timezone  # SQLite's backend stores the naive time in the connection's zone as text

        def sqlite_datetime(value: Any) -> Any:
            if type(value) is datetime and value.utcoffset() is not None:
                return str(value.astimezone(zone).replace(tzinfo=None))
            return own(value)
        return sqlite_datetime
    if kind == "DateField":
        if postgres:
            return lambda value: value if type(value) is date else own(value)
        return lambda value: str(value) if type(value) is date else own(value)
    if kind == "UUIDField":
        if postgres:
            return lambda value: value if type(value) is UUID else own(value)
        return lambda value: value.hex if type(value) is UUID else own(value)
    if kind == "DecimalField":
        adapt_decimal = connection.ops.adapt_decimalfield_value
        digits, places = f.max_digits, f.decimal_places
        return lambda value: adapt_decimal(value, digits, places) if type(value) is Decimal else own(value)
    if kind == "GenericIPAddressField":  # an IPv4 address as it is; IPv6 is first normalised by the field
        adapt_address = connection.ops.adapt_ipaddressfield_value
        return lambda value: adapt_address(value) if type(value) is str and ":" not in value else own(value)
    return own  # binary, durations, times: rare in a plan


_JSON_CONTAINERS = (dict, list)


@functools.cache
def _table(model: type[Model], vendor: str, with_id: bool) -> Table:
    return Table(model, with_id)


def table(model: type[Model], with_id: bool = False) -> Table:
    """The model's Table for the current database; `with_id`: the rows give their ids (taken up front)."""
    return _table(model, connection.vendor, with_id)


def row_of(instance: Model) -> dict[str, Any]:
    """A model instance as a row for WritePlan.insert (made in memory by code that also reads it)."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def insert_now(instance: Model) -> None:
    """The instance's row written at once by one hand-written INSERT, its id (and its unset auto_now columns)
    set on it: the ORM's `create` for a row a use case needs the id of before its plan is written (a sign-up's
    member, a card, a reward issued), without the ORM's statement compilation. No model signals are sent (Vafa's
    business rows have none)."""
    for f in instance._meta.concrete_fields:
        if (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)) and getattr(instance, f.attname) is None:
            setattr(instance, f.attname, timezone.now())
    plan = WritePlan()
    written = plan.insert(type(instance), [row_of(instance)], returning=True)
    plan.write()
    assert written is not None
    instance.pk = written.rows[0][0]
    instance._state.adding, instance._state.db = False, connection.alias


@dataclass(eq=False)  # a statement is itself, not its text and parameters
class Statement:
    """One statement of a plan. `params` may be a function of the statements before it (SQLite only: the ids
    an earlier INSERT ... RETURNING gave). Once written, `rows` holds what it answered (with `returning`) and
    `rowcount` how many rows it touched; `check` then looks at them and raises to refuse the plan (the caller's
    transaction, rolled back, keeps nothing of it)."""

    sql: str
    params: Sequence[Any] | Callable[[], Sequence[Any]]
    returning: bool = False
    check: Callable[[Statement], None] | None = None
    rows: list[tuple] = field(default_factory=list)
    rowcount: int = -1


class WritePlan:
    """The statements a use case's write step sends, in order: built by the decide step, written at once."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def add(self, sql: str, params: Sequence[Any] | Callable[[], Sequence[Any]], *, returning: bool = False,
            check: Callable[[Statement], None] | None = None) -> Statement:
        statement = Statement(sql, params, returning, check)
        self.statements.append(statement)
        return statement

    def insert(self, model: type[Model], rows: list[dict[str, Any]], *, returning: bool = False,
               with_id: bool = False) -> Statement | None:
        """One multi-row INSERT of `rows` (attribute name → value); None when there are none."""
        if not rows:
            return None
        t = table(model, with_id)
        params: list[Any] = []
        for row in rows:
            params += t.values(row)
        return self.add(t.insert_sql(len(rows), returning), params, returning=returning)

    def write(self) -> None:
        """Send the plan. PostgreSQL: every statement in one pipeline, so one round trip whatever its length
        (the results read at its end); SQLite: one after another, in-process."""
        statements, self.statements = self.statements, []
        if not statements:
            return
        if connection.vendor == "postgresql":
            _pipelined(statements)
        else:
            with connection.cursor() as cursor:
                for statement in statements:
                    params = statement.params() if callable(statement.params) else statement.params
                    cursor.execute(statement.sql, params)
                    _read(statement, cursor)
        for statement in statements:
            if statement.check is not None:
                statement.check(statement)


def _read(statement: Statement, cursor) -> None:
    statement.rowcount = cursor.rowcount
    if statement.returning:
        statement.rows = cursor.fetchall()


def _pipelined(statements: list[Statement]) -> None:
    """The statements in one psycopg pipeline: sent together, answered together at the sync when it closes.
    Each on its own cursor, whose result (rows, rowcount) is kept until then."""
    connection.ensure_connection()
    cursors = []
    with connection.wrap_database_errors:
        try:
            with connection.connection.pipeline():
                for statement in statements:
                    assert not callable(statement.params), "PostgreSQL plans take their ids in the statement"
                    cursor = connection.cursor()
                    cursors.append(cursor)
                    cursor.execute(statement.sql, statement.params)
            for statement, cursor in zip(statements, cursors, strict=True):
                _read(statement, cursor)
        finally:
            for cursor in cursors:
                cursor.close()


def read_all(statements: list[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
    """Each statement's rows, the statements run in order: on PostgreSQL in one pipeline (one round trip; a
    statement that waits on a lock holds back those after it, so they read what the lock guards), on SQLite one
    after another. A statement waiting to go first (first_statement) is sent ahead of them, in the same trip."""
    first = _first.get()
    if first is not None and not first.sent:
        first.sent = True
        answers = _read_all([(first.sql, first.params), *statements])
        first.answer(answers[0])
        return answers[1:]
    return _read_all(statements)


def _read_all(statements: list[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
    answers: list[list[tuple]] = []
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                answers.append(cursor.fetchall())
        return answers
    connection.ensure_connection()
    cursors = []
    with connection.wrap_database_errors:
        try:
            with connection.connection.pipeline():
                for sql, params in statements:
                    cursor = connection.cursor()
                    cursors.append(cursor)
                    cursor.execute(sql, params)
            answers = [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()
    return answers


@dataclass(eq=False)
class _First:
    sql: str
    params: Sequence[Any]
    answer: Callable[[list[tuple]], None]
    sent: bool = False


_first: ContextVar[_First | None] = ContextVar("vafa_first_statement", default=None)


@contextmanager
def first_statement(sql: str, params: Sequence[Any],
                    answer: Callable[[list[tuple]], None]) -> Iterator[Callable[[], None]]:
    """`sql` runs before any other statement of the block, and `answer` gets its rows (and may raise, to stop
    the block there). When the block's first statements are a read_all (a use case's load), it rides in their
    round trip; before any other statement, it runs on its own just ahead of it. Gives a function that runs it
    now unless it ran (for a block that may have sent nothing). Why: an idempotency key's claim
    (core.idempotency) costs no round trip of its own."""
    first = _First(sql, params, answer)

    def send() -> None:
        if not first.sent:
            first.sent = True
            first.answer(_read_all([(first.sql, first.params)])[0])

    def ahead(execute, sql, params, many, context):
        send()
        return execute(sql, params, many, context)

    token = _first.set(first)
    try:
        with connection.execute_wrapper(ahead):
            yield send
    finally:
        _first.reset(token)


def set_columns(plan: WritePlan, db_table: str, columns: tuple[str, ...], business_id: int,
                values: dict[int, tuple[Any, ...]]) -> None:
    """Rows of one business (id → their new values of `columns`, values the drivers take as they are) changed
    in one UPDATE, ids in order."""
    if not values:
        return
    ids = sorted(values)
    params = [value for k in range(len(columns)) for pk in ids for value in (pk, values[pk][k])]
    plan.add(_set_columns_sql(db_table, columns, len(ids)), [*params, business_id, *ids])


@functools.cache
def _set_columns_sql(db_table: str, columns: tuple[str, ...], count: int) -> str:
    case_sql = "CASE id " + " ".join(["WHEN %s THEN %s"] * count) + " END"
    return (f"UPDATE {db_table} SET {', '.join(f'{column} = {case_sql}' for column in columns)} "
            f"WHERE business_id = %s AND id IN ({', '.join(['%s'] * count)})")


def values_list(rows: int, width: int) -> str:
    """`(%s, …), (%s, …)`: the VALUES of `rows` rows of `width` parameters."""
    return ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * rows)


def next_id_sql(vendor: str, table: str) -> str:
    """An expression for the id the next row of `table` will have, taken up front (in a load) so that every row
    of the plan can refer to it and the plan goes out in one piece. SQLite: the transaction holds the write lock
    from BEGIN (IMMEDIATE, settings), so nobody else takes it; AUTOINCREMENT's sqlite_sequence holds the largest
    id ever given (a row given its id raises it too), so a deleted row's id is never given again."""
    if vendor == "postgresql":
        return f"nextval(pg_get_serial_sequence('{table}', 'id'))"
    return f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0) + 1"
