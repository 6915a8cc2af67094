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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

# values the database drivers take as they are (psycopg and sqlite3 adapt str, int, bool and None themselves)
_AS_THEY_ARE = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "CharField", "TextField",
    "SlugField", "BooleanField", "ForeignKey",
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
            self.adapters.append(_adapter(f))
        self.nulls = [f.null for f in fields]
        self.column_list = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        self.row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # the same with each value cast to its column's type: for VALUES read by an INSERT ... SELECT, where an
        # untyped literal would be text (PostgreSQL)
        self.typed_row_sql = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields) + ")"

    def values(self, row: dict[str, Any]) -> list[Any]:
        """The row's parameters in column order: missing columns (or None in a column that takes no NULL) take
        their default; a required one missing is a bug."""
        out = []
        for name, default, adapt, null in zip(self.attnames, self.defaults, self.adapters, self.nulls, strict=True):
            value = row.get(name, _NO_DEFAULT)
            if value is _NO_DEFAULT or (value is None and not null):
                if default is None:
                    raise KeyError(f"{self.name}.{name} is required")
                value = default()
            out.append(value if adapt is None or value is None else adapt(value))
        return out

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Table per model for the process's life
    def insert_sql(self, rows: int, returning: bool = False) -> str:
        """`INSERT INTO t (columns) VALUES (...), (...)` for `rows` rows, optionally answering their ids."""
        return (f"INSERT INTO {connection.ops.quote_name(self.name)} ({self.column_list}) VALUES "
                + ", ".join([self.row_sql] * rows) + (" RETURNING id" if returning else ""))


def _adapter(f) -> Callable[[Any], Any] | None:
    kind = f.get_internal_type()
    if kind in _AS_THEY_ARE:
        return None
    if kind == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    if kind == "DateField":
        return connection.ops.adapt_datefield_value
    return lambda value: f.get_db_prep_save(value, connection)  # JSON, UUID, addresses: the field's own way


@functools.cache
def _table(model: type[Model], vendor: str, with_id: bool) -> Table:
    return Table(model, with_id)


def table(model: type[Model], with_id: bool = False) -> Table:
    """The model's Table for the current database; `with_id`: the rows give their ids (taken up front)."""
    return _table(model, connection.vendor, with_id)


def row_of(instance: Model) -> dict[str, Any]:
    """A model instance as a row for WritePlan.insert (made in memory by code that also reads it)."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


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
    after another."""
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


def values_list(rows: int, width: int) -> str:
    """`(%s, …), (%s, …)`: the VALUES of `rows` rows of `width` parameters."""
    return ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * rows)
