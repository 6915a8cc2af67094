"""Rows read by hand-written SQL on the hot path (issue 11) made into model instances exactly as the ORM would
make them: the fields' own converters, then Model.from_db. The ORM spends more CPU compiling a small query than
the database spends answering it; a statement's text is made once, and its rows turned into instances here."""

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

    def instance(self, values: Sequence[Any]) -> Any:
        """The model instance of a row's values (this model's columns, in `sql`'s order)."""
        converted = []
        for value, (_, col, converters) in zip(values, self.fields, strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, None, converted)


@functools.cache
def _columns(model: type[Model], alias: str, vendor: str) -> Columns:
    return Columns(model, alias)


def columns(model: type[Model], alias: str) -> Columns:
    """The model's Columns under `alias` on the current database: built once per process."""
    return _columns(model, alias, connection.vendor)
