"""Rows read by hand-written SQL on the hot path (issue 11) made into model instances exactly as the ORM would
make them: the fields' own converters, then Model.from_db. The ORM spends more CPU compiling a small query than
the database spends answering it; a statement's text is made once, and its rows turned into instances here.
`read_rows` is the whole of a simple read: a model's rows by a hand-written WHERE, its text built once per shape.
`made` and `new` build an instance as Model.__init__ would, without its per-field work."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils.dateparse import parse_datetime

from vafa.core.sql import vendor

Converter = Callable[[Any, Any, Any], Any]


class Columns:
    """A model's concrete columns under a table alias (`sql`, for a SELECT list), and how each value the database
    answers is turned into the field's (the converters the ORM's compiler would apply)."""

    def __init__(self, model: type[Model], alias: str):
        self.model = model
        self.sql = ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)
        self.fields: list[tuple[Field, Any, list[Converter]]] = []
        for f in model._meta.concrete_fields:
            col = f.get_col(alias)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            self.fields.append((f, col, [_quick(converter) for converter in converters]))
        # only the columns that have converters are visited per row (most have none)
        self._converted = [(i, col, converters) for i, (_, col, converters) in enumerate(self.fields) if converters]

    def instance(self, values: Sequence[Any]) -> Any:
        """The model instance of a row's values (this model's columns, in `sql`'s order; any beyond them are
        not the model's and are left out)."""
        converted = list(values[:len(self.fields)])
        if len(converted) != len(self.fields):
            raise ValueError(f"{len(values)} values for {len(self.fields)} columns of {self.model.__name__}")
        db = connections[DEFAULT_DB_ALIAS]  # what `connection` stands for, looked up once rather than per use
        for i, col, converters in self._converted:
            for converter in converters:
                converted[i] = converter(converted[i], col, db)
        return made(self.model, converted, db.alias)


def _quick(converter: Converter) -> Converter:
    """The converter, or one that gives the same value with fewer calls: SQLite's for a moment (USE_TZ), which
    its driver has most often parsed already (a declared datetime column), and which is made aware in the
    connection's zone as the backend's make_aware does (replace)."""
    if (connection.vendor == "sqlite" and settings.USE_TZ
            and getattr(converter, "__name__", "") == "convert_datetimefield_value"):
        return _sqlite_moment
    return converter


def _sqlite_moment(value: Any, expression: Any, db: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = parse_datetime(value)
    # combine(), not replace(tzinfo=): the same moment (fold kept) without replace's keyword parsing, a fifth
    # of the cost
    return value if value.utcoffset() is not None else datetime.combine(value, value.time(), db.timezone)


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...] | None:
    """The model's concrete columns' attribute names, in field order; None when its instances must go through
    Model.__init__ (its own __init__, or a pre_init/post_init receiver: an ImageField's, say)."""
    if model.__init__ is not Model.__init__ or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return None
    return tuple(f.attname for f in model._meta.concrete_fields)


def made(model: type[Model], values: Sequence[Any], db: str | None = None) -> Any:
    """An instance of `model` from every concrete column's value in field order, as `model(*values)` (and with
    `db`, Model.from_db(db, …)) makes it: the values set as attributes and a fresh ModelState. Why by hand: the
    positional Model.__init__ visits every field and sends two signals, a third of building a hot-path row.
    Models that need their __init__ (attnames None) get it."""
    names = _attnames(model)
    if names is None:
        instance = model(*values)
    else:
        if len(values) != len(names):
            raise ValueError(f"{len(values)} values for {len(names)} columns of {model.__name__}")
        instance = model.__new__(model)
        instance.__dict__.update(zip(names, values, strict=False))  # the lengths checked above
        instance._state = ModelState()
    if db is not None:
        instance._state.adding, instance._state.db = False, db
    return instance


@functools.cache
def _columns(model: type[Model], alias: str, vendor: str) -> Columns:
    return Columns(model, alias)


def columns(model: type[Model], alias: str) -> Columns:
    """The model's Columns under `alias` on the current database: built once per process."""
    return _columns(model, alias, vendor())


@functools.lru_cache(maxsize=256)
def _read_sql(model: type[Model], where: str, tail: str, vendor: str) -> str:
    return (f"SELECT {columns(model, 't').sql} FROM {connection.ops.quote_name(model._meta.db_table)} t "
            f"WHERE {where}{tail}")


def read_rows(model: type[Model], where: str, params: Sequence[Any], *, order: str = "", lock: bool = False) -> list:
    """The model's rows (table alias `t`) by a hand-written `where` (business_id first, house rule), as instances.
    `order`: an ORDER BY's terms; `lock`: FOR UPDATE where the database has row locks (SQLite has none; its
    transactions begin IMMEDIATE instead, as Django's select_for_update is dropped there). Datetimes in `params`
    are adapted by the caller (connection.ops.adapt_datetimefield_value)."""
    tail = f" ORDER BY {order}" if order else ""
    if lock and connection.features.has_select_for_update:
        tail += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(_read_sql(model, where, tail, connection.vendor), params)
        rows = cursor.fetchall()
    found = columns(model, "t")
    return [found.instance(row) for row in rows]


class _Defaults:
    """A model's row of defaults for `new`: each field's position by attribute name, the constant defaults in
    a row to copy, the defaults to call (a field's callable default, a database default) by position, and the
    many-to-one relations by field name: (position, the related object's attribute the field holds)."""

    def __init__(self, model: type[Model]):
        fields = model._meta.concrete_fields
        self.at = {f.attname: i for i, f in enumerate(fields)}
        self.related = {f.name: (i, f.target_field.attname) for i, f in enumerate(fields)  # type: ignore[attr-defined]
                        if f.is_relation and f.many_to_one}
        constant = [not (f.has_default() and callable(f.default)) and not f.has_db_default() for f in fields]
        self.row = [f.get_default() if fixed else None for f, fixed in zip(fields, constant, strict=True)]
        self.calls = [(i, f.attname, f.get_default) for i, (f, fixed) in enumerate(zip(fields, constant, strict=True))
                      if not fixed]


_defaults = functools.cache(_Defaults)


def new(model: type[Model], **values: Any) -> Any:
    """`model(**values)` made by `made`: each field's value by its attribute name (`member_id`), or a related
    object by the field's name (`member`, a many-to-one: its id set and the object kept, as the ORM's
    descriptor keeps it), the others their defaults. A name the model has no column for is an error."""
    shape = _defaults(model)
    row = shape.row.copy()
    for i, attname, default in shape.calls:
        if attname not in values:
            row[i] = default()
    related = {}
    for name, value in values.items():
        i = shape.at.get(name)
        if i is None:
            if name not in shape.related:
                raise TypeError(f"{model.__name__}() got an unexpected keyword argument {name!r}")
            i, target = shape.related[name]
            related[name] = value
            value = None if value is None else getattr(value, target)
        row[i] = value
    instance = made(model, row)
    if related:
        instance._state.fields_cache.update(related)
    return instance
