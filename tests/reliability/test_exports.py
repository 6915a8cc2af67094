"""Exports are safe to open: formula injection is neutralised in CSV and Excel, numbers stay numbers, and a
business exports only its own members."""

import csv
import io

import pytest
from openpyxl import load_workbook

from vafa.core.exports import safe_cell, write_csv, write_xlsx
from vafa.members.balances import adjust
from vafa.members.services import sign_up

from .conftest import counts

INJECTION = '=HYPERLINK("http://x")'


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+2", "'=1+2"), ("+98", "'+98"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), (INJECTION, "'" + INJECTION), ("علی", "علی"), ("a=b", "a=b"), ("", ""), (None, ""),
    (0, 0), (-500, -500), (10**15, 10**15), (True, "true"),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected
    assert type(safe_cell(value)) is type(expected)


def test_write_csv_streams_line_by_line():
    lines = list(write_csv(["name", "amount"], [[INJECTION, -5], ["a,b", 7]]))
    assert len(lines) == 3
    assert lines[0].startswith("\ufeff")
    assert list(csv.reader(io.StringIO("".join(lines).lstrip("\ufeff")))) == [
        ["name", "amount"], ["'" + INJECTION, "-5"], ["a,b", "7"]]


def test_write_xlsx_keeps_numbers_numeric():
    file = io.BytesIO()
    write_xlsx(file, ["name", "amount"], [[INJECTION, -5], ["+1", 10**12]])
    sheet = load_workbook(io.BytesIO(file.getvalue())).active
    rows = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows == [[("'" + INJECTION, "s"), (-5, "n")], [("'+1", "s"), (10**12, "n")]]


@pytest.fixture
def members(business, other_business):
    evil = sign_up(business, mobile="09121230001", first_name=INJECTION, last_name="@cmd|' /C calc'!A0")
    plain = sign_up(business, mobile="09121230002", first_name="مریم", last_name="-")
    adjust(business, evil.pk, "points", 1234, reason="seed")
    adjust(business, plain.pk, "wallet", 50_000, reason="seed")
    stranger = sign_up(other_business, mobile="09351230003", first_name="Stranger")
    return evil, plain, stranger


def _csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_members_csv(reader, members):
    evil, plain, _ = members
    response = reader.get("/members/export", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="members-cafe.csv"' in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert [r["code"] for r in rows] == [evil.code, plain.code]
    assert rows[0]["first_name"] == "'" + INJECTION
    assert rows[0]["last_name"] == "'@cmd|' /C calc'!A0"
    assert rows[0]["mobile"] == "'+989121230001"  # E.164 starts with "+": a spreadsheet would compute it
    assert (rows[0]["points"], rows[0]["wallet"], rows[1]["points"], rows[1]["wallet"]) == ("1234", "0", "0", "50000")
    assert rows[1]["first_name"] == "مریم" and rows[1]["last_name"] == "'-"
    assert rows[0]["joined"].count("/") == 2  # the cafe's Jalali calendar, ASCII digits


def test_members_xlsx(reader, members):
    evil, plain, _ = members
    response = reader.get("/members/export", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, *rows = [[c for c in row] for row in sheet.iter_rows()]
    names = [c.value for c in header]
    first = dict(zip(names, rows[0], strict=True))
    assert [dict(zip(names, r, strict=True))["code"].value for r in rows] == [evil.code, plain.code]
    assert (first["first_name"].value, first["first_name"].data_type) == ("'" + INJECTION, "s")
    assert (first["points"].value, first["points"].data_type) == (1234, "n")
    assert all(c.data_type != "f" for row in rows for c in row)  # no formula anywhere


def test_another_business_exports_only_its_own(outsider, members):
    _, _, stranger = members
    rows = _csv_rows(outsider.get("/members/export"))
    assert [r["code"] for r in rows] == [stranger.code]
    assert rows[0]["joined"].count("-") == 2  # the other shop's Gregorian calendar


def test_export_needs_a_key_and_a_known_format(api_client, reader, members):
    before = counts()
    response = api_client().get("/members/export")
    assert response.status_code == 401
    response = reader.get("/members/export", {"format": "pdf"})
    assert response.status_code == 422 and response["Content-Type"].startswith("application/problem+json")
    assert counts() == before
