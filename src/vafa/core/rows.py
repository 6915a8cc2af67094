"""Rows read by hand-written SQL on the hot path (issue 11) made into model instances exactly as the ORM would
make them: the fields' own converters, then Model.from_db. The ORM spends more CPU compiling a small query than
the database spends answering it; a statement's text is made once, and its rows turned into instances here.
`read_rows` is the whole of a simple read: a model's rows by a hand-written WHERE, its text built once per shape."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

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
            self.fields.append((f, col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))
        # only the columns that have converters are visited per row (most have none)
        self._converted = [(i, col, converters) for i, (_, col, converters) in enumerate(self.fields) if converters]

    def instance(self, values: Sequence[Any]) -> Any:
        """The model instance of a row's values (this model's columns, in `sql`'s order; any beyond them are
        not the model's and are left out)."""
        converted = list(values[:len(self.fields)])
        if len(converted) != len(self.fields):
            raise ValueError(f"{len(values)} values for {len(self.fields)} columns of {self.model.__name__}")
        for i, col, converters in self._converted:
            for converter in converters:
                converted[i] = converter(converted[i], col, connection)
        return self.model.from_db(connection.alias, None, converted)


@functools.cache
def _columns(model: type[Model], alias: str, vendor: str) -> Columns:
    return Columns(model, alias)


def columns(model: type[Model], alias: str) -> Columns:
    """The model's Columns under `alias` on the current database: built once per process."""
    return _columns(model, alias, connection.vendor)


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
