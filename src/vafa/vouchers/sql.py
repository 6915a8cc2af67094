"""The vouchers app's hand-written reads (issue 11): the validation's read of a code, its definition and the
caller's guess count in one statement whose text is built once, without the ORM's compiling of a query at every
request (half of what a validation cost). Tested on both databases (tests/vouchers, tests/api)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from vafa.vouchers.models import VoucherCode, VoucherDefinition

Converter = Callable[[Any, Any, Any], Any]


class _Columns:
    """A model's concrete columns under a table alias, and how each value the database answers is turned into
    the field's (the converters the ORM's compiler would apply): built once per model and database vendor."""

    def __init__(self, model: type[Model], alias: str):
        self.model = model
        self.sql = ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)
        self.fields: list[tuple[Field, Any, list[Converter]]] = []
        for f in model._meta.concrete_fields:
            col = f.get_col(alias)
            self.fields.append((f, col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)))

    def instance(self, values: Sequence[Any]) -> Any:
        converted = []
        for value, (_, col, converters) in zip(values, self.fields, strict=True):
            for converter in converters:
                value = converter(value, col, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, None, converted)


@functools.cache
def _code_read(vendor: str) -> tuple[_Columns, _Columns, str, str]:
    code, definition = _Columns(VoucherCode, "c"), _Columns(VoucherDefinition, "d")
    tables = (f"FROM {connection.ops.quote_name(VoucherCode._meta.db_table)} c JOIN "
              f"{connection.ops.quote_name(VoucherDefinition._meta.db_table)} d ON d.id = c.definition_id "
              "WHERE c.business_id = %s AND c.code = %s")
    return code, definition, f"SELECT {code.sql}, {definition.sql}", tables


def code_with_definition(business_id: int, code: str,
                         beside: tuple[str, list] | None = None) -> tuple[VoucherCode | None, Any]:
    """The business's code (normalised) with its definition loaded, and the one value `beside`'s (sql, params)
    answers, read as a subquery in the same statement (None without it, or when the code does not exist)."""
    code_columns, definition_columns, select, tables = _code_read(connection.vendor)
    params: list[Any] = [business_id, code]
    if beside is not None:
        select = f"{select}, ({beside[0]})"
        params = [*beside[1], *params]
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {tables}", params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    split = len(code_columns.fields)
    found = code_columns.instance(row[:split])
    found.definition = definition_columns.instance(row[split:split + len(definition_columns.fields)])
    return found, row[-1] if beside is not None else None
