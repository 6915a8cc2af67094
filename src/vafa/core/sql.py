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
from datetime import UTC, date, datetime
from decimal import Decimal
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import Model
from django.utils import timezone

# values the database drivers take as they are (psycopg and sqlite3 adapt str, int, bool and None themselves, and
# Django's fields give them on as they are: a foreign key's value is its id)
_AS_THEY_ARE = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "CharField", "TextField",
    "SlugField", "BooleanField", "ForeignKey", "OneToOneField",
})


class Table:
    """A model's concrete columns (its id left out: the database gives it) and, per column, its default and how
    a value is adapted for the current database. Built once per model and database vendor (table())."""

    def __init__(self, model: type[Model], with_id: bool = False):
        fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
        self.name = model._meta.db_table
        self.columns = [f.column for f in fields]
        self.attnames = [f.attname for f in fields]
        self.adapters: list[Callable[[Any], Any] | None] = []
        # the columns a missing value (or None where NULL is refused) sends to their default (None: required);
        # the others go as the row has them (a missing one as NULL)
        self._filled: list[tuple[int, str, Callable[[], Any] | None, bool]] = []
        for i, f in enumerate(fields):
            if f.has_default():
                default = f.default if callable(f.default) else (lambda value=f.default: value)
            elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
                default = timezone.now
            else:
                default = None
            if default is not None or not f.null:
                self._filled.append((i, f.attname, default, f.null))
            self.adapters.append(adapter(f, connection.vendor))
        self._adapted = [(i, adapt) for i, adapt in enumerate(self.adapters) if adapt is not None]
        self.column_list = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        self.row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        # the same with each value cast to its column's type: for VALUES read by an INSERT ... SELECT, where an
        # untyped literal would be text (PostgreSQL)
        self.typed_row_sql = "(" + ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields) + ")"

    def values(self, row: dict[str, Any]) -> list[Any]:
        """The row's parameters in column order: missing columns (or None in a column that takes no NULL) take
        their default; a required one missing is a bug."""
        out = list(map(row.get, self.attnames))
        if None in out:
            for i, name, default, null in self._filled:
                if out[i] is None and (not null or name not in row):
                    if default is None:
                        raise KeyError(f"{self.name}.{name} is required")
                    out[i] = default()
        for i, adapt in self._adapted:
            value = out[i]
            if value is not None:
                out[i] = adapt(value)
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
        dumps = _json_dumps(f.encoder)
        if postgres:
            from psycopg.types.json import Jsonb  # the driver, imported only where it is installed and used

            return lambda value: Jsonb(value, dumps) if type(value) in _JSON_CONTAINERS else own(value)
        return lambda value: dumps(value) if type(value) in _JSON_CONTAINERS else own(value)
    if kind == "DateTimeField":
        if postgres:  # psycopg takes an aware datetime as it is; a naive one the field makes aware (and warns)
            return lambda value: value if type(value) is datetime and value.utcoffset() is not None else own(value)
        zone = connection.timezone  # SQLite's backend stores the naive time in the connection's zone as text
        # a plan's few moments (its activity's, now) are each in several rows. Keyed with the fold: two times of a
        # zone's repeated hour are equal (and hash alike) when they share the tzinfo
        texts: dict[tuple[datetime, int], str] = {}
        # in UTC (Django's zone for SQLite under USE_TZ) the naive text is the aware one without its "+00:00":
        # replace(tzinfo=None) parses its keywords, as dear as the text itself
        utc = zone is UTC

        def sqlite_datetime(value: Any) -> Any:
            if type(value) is datetime and value.utcoffset() is not None:
                key = (value, value.fold)
                text = texts.get(key)
                if text is None:
                    if len(texts) >= 64:
                        texts.clear()
                    moment = value.astimezone(zone)
                    text = texts[key] = moment.isoformat(" ")[:-6] if utc else str(moment.replace(tzinfo=None))
                return text
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


def _json_dumps(encoder: type[json.JSONEncoder] | None) -> Callable[[Any], str]:
    """`json.dumps(value, cls=encoder)`, what Django's JSONField stores, without the set-up json.dumps makes
    per call (an encoder object, then a C encoder): the C encoder made once. It keeps no table of the
    containers it is inside (a shared one would not be safe across threads): a plan's JSON is a tree."""
    cls = encoder or json.JSONEncoder
    if (c_make_encoder is None or cls.encode is not json.JSONEncoder.encode
            or cls.iterencode is not json.JSONEncoder.iterencode):
        return functools.partial(json.dumps, cls=encoder)
    encode = c_make_encoder(None, cls().default, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


def _engine() -> str:
    """The database's engine, read without asking the connection (a thread-local lookup per access)."""
    return connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]


def vendor() -> str:
    """`connection.vendor`, without the two thread-local lookups (and the exceptions they raise inside) that
    reading it through the connection proxy costs: a purchase read it about ten times (issue 11)."""
    return _vendor(_engine())


@functools.cache
def _vendor(engine: str) -> str:
    return connection.vendor


@functools.cache
def _table(model: type[Model], engine: str, with_id: bool) -> Table:
    return Table(model, with_id)


def table(model: type[Model], with_id: bool = False) -> Table:
    """The model's Table for the current database; `with_id`: the rows give their ids (taken up front)."""
    return _table(model, _engine(), with_id)


def row_of(instance: Model) -> dict[str, Any]:
    """A model instance as a row for WritePlan.insert (made in memory by code that also reads it). Its values
    read from its __dict__: a foreign key's id is behind a descriptor, a Python call each (a field not loaded
    is read as the ORM reads it)."""
    values = instance.__dict__
    return {name: values[name] if name in values else getattr(instance, name) for name in _attnames(type(instance))}


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


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
        db = connections[DEFAULT_DB_ALIAS]
        if db.vendor == "postgresql":
            _pipelined(db, statements)
        else:
            with _cursors(db) as (new_cursor, sql_of):
                cursor = new_cursor()
                for statement in statements:
                    params = statement.params() if callable(statement.params) else statement.params
                    cursor.execute(sql_of(statement.sql), params)
                    _read(statement, cursor)
        for statement in statements:
            if statement.check is not None:
                statement.check(statement)


def _read(statement: Statement, cursor) -> None:
    statement.rowcount = cursor.rowcount
    if statement.returning:
        statement.rows = cursor.fetchall()


@contextmanager
def _cursors(db) -> Iterator[tuple[Callable[[], Any], Callable[[str], str]]]:
    """A maker of cursors for a plan's or a load's statements (closed at the end), and how a statement's text
    goes to them. Django's own cursors when something must see each statement (the query log of DEBUG or of a
    test's CaptureQueriesContext, an execute wrapper other than first_statement's); else the driver's, under
    Django's checks and error translation once for all the statements. Why: Django's wrapper around each
    statement, and on SQLite its rewriting of each statement's placeholders (a regular expression over the
    text), cost a purchase more CPU than SQLite's own execution of it (issue 11)."""
    opened: list[Any] = []
    direct = _direct(db)
    if direct:
        db.close_if_health_check_failed()
        db.ensure_connection()
        db.validate_thread_sharing()
        db.validate_no_broken_transaction()
    postgres = db.vendor == "postgresql"

    def cursor() -> Any:
        opened.append(db.cursor() if not direct else db.create_cursor() if postgres else db.connection.cursor())
        return opened[-1]
    try:
        with db.wrap_database_errors:  # a pipeline's errors come at its end, outside any one execute
            yield cursor, _qmark if direct and not postgres else _as_is
    finally:
        for each in opened:
            each.close()


def _direct(db) -> bool:
    """Nothing needs to see each statement: nobody logs them, and the only execute wrappers are
    first_statement's, whose statements are then sent first, as their wrappers would have."""
    if db.queries_logged:
        return False
    wrappers = db.execute_wrappers
    if not wrappers:
        return True
    if not all(type(wrapper) is _Ahead for wrapper in wrappers):
        return False
    for wrapper in wrappers:  # outermost first, as Django nests them
        wrapper.first.send()
    return True


def _as_is(sql: str) -> str:
    return sql


@functools.lru_cache(maxsize=1024)
def _qmark(sql: str) -> str:
    """A statement's text as sqlite3 takes it: Django's SQLite cursor's conversion (`%s` → `?`, `%%` → `%`),
    made once per text (the plans' texts are few: cached per table and row count)."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


def _pipelined(db, statements: list[Statement]) -> None:
    """The statements in one psycopg pipeline: sent together, answered together at the sync when it closes.
    Each on its own cursor, whose result (rows, rowcount) is kept until then."""
    with _cursors(db) as (new_cursor, _):
        cursors = []
        with db.connection.pipeline():
            for statement in statements:
                assert not callable(statement.params), "PostgreSQL plans take their ids in the statement"
                cursors.append(new_cursor())
                cursors[-1].execute(statement.sql, statement.params)
        for statement, cursor in zip(statements, cursors, strict=True):
            _read(statement, cursor)


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
    db = connections[DEFAULT_DB_ALIAS]
    with _cursors(db) as (new_cursor, sql_of):
        if db.vendor != "postgresql" or len(statements) == 1:  # one statement: a pipeline's sync only costs more
            cursor = new_cursor()
            answers = []
            for sql, params in statements:
                cursor.execute(sql_of(sql), params)
                answers.append(cursor.fetchall())
            return answers
        cursors = []
        with db.connection.pipeline():
            for sql, params in statements:
                cursors.append(new_cursor())
                cursors[-1].execute(sql, params)
        return [cursor.fetchall() for cursor in cursors]


@dataclass(eq=False)
class _First:
    sql: str
    params: Sequence[Any]
    answer: Callable[[list[tuple]], None]
    sent: bool = False

    def send(self) -> None:
        """Run it now, unless it ran."""
        if not self.sent:
            self.sent = True
            self.answer(_read_all([(self.sql, self.params)])[0])


@dataclass(eq=False)
class _Ahead:
    """first_statement's execute wrapper: its statement before the one wrapped (`first`: _cursors knows it)."""

    first: _First

    def __call__(self, execute, sql, params, many, context):
        self.first.send()
        return execute(sql, params, many, context)


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
    token = _first.set(first)
    try:
        with connection.execute_wrapper(_Ahead(first)):
            yield first.send
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
        return f"nextval(CAST('{_sequence(table)}' AS regclass))"
    return f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0) + 1"


@functools.cache
def _sequence(table: str) -> str:
    """The name of `table`'s id sequence, asked once a process: pg_get_serial_sequence inside a statement is a
    catalog lookup at every execution (a generic plan cannot fold it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
    return sequence
