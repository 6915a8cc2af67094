"""A table of nasty values against the API: each is refused with a problem+json and nothing written, or accepted
with the value it means (Persian/Arabic digits, a leap-year Jalali date). Names with SQL and HTML are stored as
text and escaped on every page that shows them."""

import pytest
from django.contrib.auth import get_user_model

from .conftest import counts

MEMBER_CASES = [  # (body, status, stored mobile or refused field)
    ({"mobile": "۰۹۱۲۵۵۵۱۲۳۴"}, 201, "+989125551234"),
    ({"mobile": "٠٩١٢٥٥٥١٢٣٤"}, 201, "+989125551234"),
    ({"mobile": "+98 912 555 1234"}, 201, "+989125551234"),
    ({"mobile": "+14155550123"}, 201, "+14155550123"),  # a foreign mobile, in international form
    ({"mobile": "+49 1512 3456789"}, 201, "+4915123456789"),
    ({"mobile": "02188888888"}, 422, "mobile"),  # a Tehran landline is not a mobile
    ({"mobile": "+98 912 555 12345"}, 422, "mobile"),  # one digit too many
    ({"mobile": "0912"}, 422, "mobile"),
    ({"mobile": "abc"}, 422, "mobile"),
    ({"mobile": "09125551234'; DROP TABLE members_member;--"}, 422, "mobile"),
    ({"mobile": 9125551234}, 422, "mobile"),
    ({"mobile": "09125551234", "birth_date": "1403-12-30"}, 201, "+989125551234"),  # 1403 is a leap year
    ({"mobile": "09125551234", "birth_date": "1404-12-30"}, 422, "birth_date"),
    ({"mobile": "09125551234", "birth_date": "1404-13-01"}, 422, "birth_date"),
    ({"mobile": "09125551234", "birth_date": "2025-02-30"}, 422, "birth_date"),
    ({"mobile": "09125551234", "unknown": 1}, 422, "unknown"),
]


@pytest.mark.parametrize(("body", "status", "expect"), MEMBER_CASES, ids=[str(c[0]) for c in MEMBER_CASES])
def test_sign_up_values(writer, business, body, status, expect):
    before = counts()
    response = writer.post("/members", body)
    assert response.status_code == status, response.content.decode()
    if status == 201:
        assert response.json()["mobile"] == expect
    else:
        assert response["Content-Type"].startswith("application/problem+json")
        assert expect in [e["field"] for e in response.json()["errors"]]
        assert counts() == before


AMOUNTS = [-1, 10**20, 2**63, 1.5, 1e3, "100", "۱۰۰", None, True, [], {}]


@pytest.mark.parametrize("total", AMOUNTS, ids=repr)
def test_bad_amounts_are_422_and_write_nothing(writer, member, total):
    before = counts()
    response = writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "N-1",
                                          "total": total})
    assert response.status_code == 422, response.content.decode()
    assert response["Content-Type"].startswith("application/problem+json")
    assert "total" in [e["field"] for e in response.json()["errors"]]
    assert counts() == before


def test_a_zero_amount_is_a_purchase_that_earns_nothing(writer, member):
    response = writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "Z-1",
                                          "total": 0})
    assert response.status_code == 201, response.content.decode()
    assert reader_points(member) == 0


def reader_points(member) -> int:
    from vafa.ledger.selectors import balances

    return balances(member)["points"]["available"]


@pytest.mark.parametrize("body", [
    b'{"mobile": "' + b"9" * (10 * 1024 * 1024) + b'"}',  # 10 MB
    "[" * 100_000 + "]" * 100_000,  # deeply nested
    '{"a":' * 5_000 + "1" + "}" * 5_000,
    b"\xff\xfe not json",
    "",
], ids=["10MB", "deep-list", "deep-object", "not-utf8", "empty"])
def test_hostile_bodies_are_problems_not_500(writer, business, body):
    before = counts()
    response = writer.post("/members", body)
    assert response.status_code in (400, 413, 422), (response.status_code, response.content[:200])
    assert response["Content-Type"].startswith("application/problem+json")
    assert counts() == before


def test_a_10_mb_body_is_413(writer, business):
    response = writer.post("/members", b'{"mobile": "' + b"9" * (10 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


EVIL = "<script>alert(1)</script>'; DROP TABLE members_member;--"


def test_sql_and_html_in_names_are_text_and_escaped(writer, business, client):
    response = writer.post("/members", {"mobile": "09125550000", "first_name": EVIL, "last_name": "<b>x</b>"})
    assert response.status_code == 201
    assert response.json()["first_name"] == EVIL
    get_user_model().objects.create_superuser("root", "root@example.com", "a long password 123")
    client.login(username="root", password="a long password 123")
    for url in ("/admin/members/member/", f"/admin/members/member/{response.json()['id']}/change/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "<b>x</b>" not in page, url
        assert "&lt;script&gt;" in page, url


def test_html_in_a_business_name_is_escaped_on_the_join_page_and_absent_from_the_home_page(db, client):
    from vafa.tenancy.services import create_business

    create_business(name="<script>alert(1)</script>", slug="evil")
    page = client.get("/join/evil/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    home = client.get("/").content.decode()
    assert "alert(1)" not in home and "evil" not in home  # the platform's customers are not listed publicly


class CountingStream:
    """A request body of `size` bytes that counts what the server reads of it."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.read_bytes if n is None or n < 0 else min(n, self.size - self.read_bytes)
        self.read_bytes += n
        return b"9" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n)


def test_a_too_large_body_is_refused_before_it_is_read(writer, business):
    """DATA_UPLOAD_MAX_MEMORY_SIZE is checked against Content-Length before Django reads the body (Ninja parses
    request.body, which raises RequestDataTooBig): a 10 MB upload is never buffered."""
    stream = CountingStream(10 * 1024 * 1024)
    response = writer.client.generic("POST", "/api/v1/members", b"x", content_type="application/json",
                                     CONTENT_LENGTH=str(stream.size), **{"wsgi.input": stream})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")
    assert stream.read_bytes == 0
