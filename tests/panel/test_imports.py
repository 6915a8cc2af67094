"""The import wizard with Django's test client: upload (CSV or xlsx), map columns, a dry run that lists every bad
row with its reason and writes nothing, then the import through vafa.imports.services (all or nothing)."""

import io
import re

import openpyxl
import pytest

from vafa.members.models import Member

pytestmark = pytest.mark.django_db

BAD = "tel,name\n09120000001,Sara\nnot-a-phone,Reza\n09120000003,Mina\n"
GOOD = "tel,name\n09120000001,Sara\n09120000003,Mina\n"


def upload(client, text: str | bytes, name: str = "members.csv", kind: str = "members") -> str:
    file = io.BytesIO(text.encode() if isinstance(text, str) else text)
    file.name = name
    response = client.post("/panel/import/", {"kind": kind, "file": file})
    assert response.status_code == 302
    return response["Location"]


def test_a_bad_row_is_listed_and_nothing_is_written(signed_in, business):
    client = signed_in("owner")
    url = upload(client, BAD)
    html = client.post(url, {"col-mobile": "0", "col-first_name": "1"}).content.decode()
    assert 'data-testid="import-problems"' in html
    rows = re.findall(r'<tr data-testid="problem"><td>(.*?)</td><td>(.*?)</td>', html)
    assert rows == [("۳", "موبایل")]
    assert not Member.objects.filter(business=business).exists()
    assert client.post(url.rstrip("/") + "/run").status_code == 404  # no import without a clean dry run


def test_a_good_file_imports_after_the_dry_run(signed_in, business):
    client = signed_in("owner")
    url = upload(client, GOOD)
    html = client.post(url, {"col-mobile": "0", "col-first_name": "1"}).content.decode()
    assert 'data-testid="import-ready"' in html and not Member.objects.filter(business=business).exists()
    assert 'data-testid="import-progress"' in client.get(url + "run").content.decode()
    html = client.post(url + "run").content.decode()
    assert 'data-testid="import-done"' in html
    assert sorted(Member.objects.filter(business=business).values_list("first_name", flat=True)) == ["Mina", "Sara"]


def test_xlsx_and_guessed_columns(signed_in, business):
    book = openpyxl.Workbook()
    book.active.append(["mobile", "first_name"])
    book.active.append(["09120000009", "Ali"])
    data = io.BytesIO()
    book.save(data)
    client = signed_in("owner")
    url = upload(client, data.getvalue(), "m.xlsx")
    html = client.get(url).content.decode()
    assert '<option value="0" selected>mobile</option>' in html
    client.post(url, {"col-mobile": "0", "col-first_name": "1"})
    client.post(url + "run")
    assert Member.objects.get(business=business).first_name == "Ali"


def test_a_required_column_must_be_mapped(signed_in):
    client = signed_in("owner")
    url = upload(client, GOOD)
    html = client.post(url, {"col-first_name": "1"}).content.decode()
    assert "alert-danger" in html and "import-ready" not in html


def test_not_a_table_is_refused(signed_in):
    file = io.BytesIO(b"\xff\xfe\x00garbage")
    file.name = "x.csv"
    response = signed_in("owner").post("/panel/import/", {"kind": "members", "file": file})
    assert response.status_code == 200 and "is-invalid" in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "cashier"])
def test_import_needs_admin(signed_in, role):
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    assert client.get("/panel/import/").status_code == 403
