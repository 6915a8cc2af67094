"""Spreadsheet exports that are safe to open: CSV and Excel writers fed by an iterator of rows, and the OWASP
rule against formula injection (a text cell that a spreadsheet would run as a formula is prefixed with `'`)."""

import csv
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from openpyxl import Workbook

# A spreadsheet treats a cell starting with one of these as a formula (tab and CR can hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Numbers stay numbers; text that a spreadsheet could run as a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """csv.writer needs a file; this one hands back what was written."""

    def write(self, text: str) -> str:
        return text


def write_csv(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text, one line at a time (for a StreamingHttpResponse). The BOM makes Excel read UTF-8 (Persian)."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def write_xlsx(file: BinaryIO, header: list[str], rows: Iterable[Iterable], title: str = "export") -> None:
    """An .xlsx workbook written row by row (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([safe_cell(value) for value in row])
    workbook.save(file)
