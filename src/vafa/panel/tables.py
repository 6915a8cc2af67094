"""The table convention every panel list follows: search, filters, sorting and pagination on the server, the
state in the URL (a filtered view can be bookmarked), HTMX swapping only the table, and CSV / Excel export of
exactly the filtered rows through vafa.core.exports (formula injection neutralised there).

A list declares its columns, filters and search; the view calls `Table.respond(request)`."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from vafa.core.calendar import format_date, parse_date
from vafa.core.errors import InvalidInput
from vafa.core.exports import write_csv, write_xlsx
from vafa.panel.labels import label

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_SIZE = 25
COUNT_CAP = 10_000  # a longer list says "10,000+ rows": counting a million members' rows is a scan per view


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (a bounded query); past that, `capped` is true and the pages end at the
    cap (narrowing the filter or the export reaches the rest)."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return self.object_list.order_by().values("pk")[:COUNT_CAP + 1].count()
        return len(self.object_list)

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def shown_count(self) -> int:
        return min(self.count, COUNT_CAP)


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    sort: str | None = None  # the ORM ordering this column sorts by, when it sorts
    kind: str = "text"  # text, digits, num, money, date, datetime, or "label:<kind>" (see labels.LABELS)
    get: Callable | None = None  # row → value; default: the attribute named key
    link: Callable | None = None  # row → URL

    def value(self, row):
        return self.get(row) if self.get else getattr(row, self.key)


@dataclass(frozen=True)
class Filter:
    name: str
    title: str
    # None: a free input; a list, even an empty one (a business with no tiers yet), a list to pick from
    choices: list[tuple[str, str]] | None = None
    kind: str = "text"  # text, date (Jalali picker), number


class Table:
    columns: list[Column] = []
    filters: list[Filter] = []
    default_sort = "-id"
    export_name = "export"  # the file's name: ASCII, safe in every browser and mail client
    sheet_title = ""  # the workbook's sheet, in the operator's language (a report's title when empty)
    template = ""  # the full page; "panel/partials/table.html" is swapped by HTMX
    searchable = True  # shows the search box
    actions_template = ""  # a row's buttons (not exported), rendered with `row`

    def __init__(self, request) -> None:
        self.request = request
        self.business = request.business
        self.params = request.GET
        self.errors: dict[str, str] = {}

    # A list overrides these two.
    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def apply(self, queryset: QuerySet) -> QuerySet:
        """Search and filters from self.params; a bad filter value goes to self.errors and is ignored."""
        return queryset

    def day_param(self, name: str) -> dt.datetime | None:
        """The start of the day a date filter names (Jalali or Gregorian, any digits), in the business's timezone;
        a bad value goes to self.errors and is ignored."""
        text = self.params.get(name, "").strip()
        if not text:
            return None
        try:
            day = parse_date(text, name)
        except InvalidInput:
            self.errors[name] = _("Not a date: %(value)s") % {"value": text}
            return None
        return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(self.business.timezone))

    def day_range(self, queryset: QuerySet, field: str) -> QuerySet:
        """The `from` and `to` filters (both days inclusive) on a datetime field."""
        if (start := self.day_param("from")) is not None:
            queryset = queryset.filter(**{f"{field}__gte": start})
        if (end := self.day_param("to")) is not None:
            queryset = queryset.filter(**{f"{field}__lt": end + dt.timedelta(days=1)})
        return queryset

    def filtered(self) -> QuerySet:
        return self.apply(self.base_queryset()).order_by(*self.ordering())

    def ordering(self) -> list[str]:
        wanted = self.params.get("sort", "")
        sorts = {c.key: c.sort for c in self.columns if c.sort}
        name = wanted.lstrip("-")
        if name in sorts:
            descending = wanted.startswith("-")
            return [("-" if descending else "") + sorts[name], "-id" if descending else "id"]
        return [self.default_sort]

    def page(self):
        paginator = CappedPaginator(self.filtered(), PAGE_SIZE)
        return paginator.get_page(self.params.get("page"))

    def context(self) -> dict:
        page = self.page()
        return {"table": self, "page": page, "rows": [self.cells(row) for row in page.object_list],
                "sort": self.params.get("sort", ""), "q": self.params.get("q", ""),
                "filter_values": {f.name: self.params.get(f.name, "") for f in self.filters}}

    def cells(self, row) -> dict:
        return {"row": row, "cells": [(c, c.value(row), c.link(row) if c.link else None) for c in self.columns]}

    def respond(self, extra: dict | None = None) -> HttpResponse:
        fmt = self.params.get("export")
        if fmt in ("csv", "xlsx"):
            return self.export(fmt)
        context = self.context() | (extra or {})
        if self.request.headers.get("HX-Request") and self.request.headers.get("HX-Target") == "table":
            return render(self.request, "panel/partials/table.html", context)
        return render(self.request, self.template, context)

    # Export: the same filtered, sorted queryset, every row, values a spreadsheet can sort.
    def export_value(self, column: Column, row):
        value = column.value(row)
        if value is None:
            return ""
        if column.kind in ("date", "datetime"):
            zone = ZoneInfo(self.business.timezone)
            day = value.astimezone(zone).date() if hasattr(value, "astimezone") and column.kind == "datetime" else value
            return format_date(day, self.business.calendar, "en")
        if column.kind.startswith("label:"):
            return label(column.kind.split(":", 1)[1], value)
        return value

    def export_rows(self) -> Iterator[list]:
        for row in self.filtered().iterator(chunk_size=1000):
            yield [self.export_value(c, row) for c in self.columns]

    def export(self, fmt: str) -> HttpResponse:
        header = [str(c.title) for c in self.columns]
        filename = f"{self.export_name}.{fmt}"
        if fmt == "csv":
            response = StreamingHttpResponse(write_csv(header, self.export_rows()), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        file = tempfile.TemporaryFile()
        write_xlsx(file, header, self.export_rows(), title=str(self.sheet_title or getattr(self, "title", "")
                                                                 or _("Export")))
        file.seek(0)
        return FileResponse(file, as_attachment=True, filename=filename, content_type=XLSX)
