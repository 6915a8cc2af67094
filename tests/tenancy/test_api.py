"""The business and branches endpoints."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import assert_replay, counts, ok

from vafa.tenancy.models import Branch


class TestBusiness:
    def test_get(self, reader, outsider):
        assert ok(reader.get("/business")) == {"name": "کافه وفا", "slug": "cafe", "currency": "IRT",
                                               "timezone": "Asia/Tehran", "language": "fa", "calendar": "jalali"}
        assert ok(outsider.get("/business")) == {"name": "Other Shop", "slug": "other", "currency": "USD",
                                                 "timezone": "Europe/London", "language": "en",
                                                 "calendar": "gregorian"}

    def test_branches(self, reader):
        assert ok(reader.get("/branches")) == [
            {"code": "t1", "name": "تجریش", "address": "", "active": True},
            {"code": "v2", "name": "ونک", "address": "", "active": True}]

    def test_add_a_branch(self, admin, reader, business):
        body = ok(admin.post("/branches", {"code": "n-3", "name": "نیاوران", "address": "خیابان باهنر"}), 201)
        assert body == {"code": "n-3", "name": "نیاوران", "address": "خیابان باهنر", "active": True}
        assert [b["code"] for b in ok(reader.get("/branches"))] == ["n-3", "t1", "v2"]
        assert Branch.objects.filter(business=business).count() == 3

    @pytest.mark.parametrize("body, fields", [
        ({"name": "N"}, ["code"]),
        ({"code": "", "name": "N"}, ["code"]),
        ({"code": "has space", "name": "N"}, ["code"]),
        ({"code": "x" * 33, "name": "N"}, ["code"]),
        ({"code": "n1"}, ["name"]),
        ({"code": "n1", "name": ""}, ["name"]),
        ({"code": "n1", "name": "N", "phone": "1"}, ["phone"]),
    ])
    def test_add_bad_input(self, admin, body, fields):
        before = counts()
        assert_problem(admin.post("/branches", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_add_needs_admin(self, writer):
        before = counts()
        assert_problem(writer.post("/branches", {"code": "n1", "name": "N"}), 403, "scope_too_narrow")
        assert counts() == before

    def test_a_taken_code_is_409(self, admin):
        before = counts()
        assert_problem(admin.post("/branches", {"code": "t1", "name": "again"}), 409, "branch_code_taken")
        assert counts() == before

    def test_replay(self, admin):
        first = admin.post("/branches", {"code": "n1", "name": "N"}, idem="br-1")
        ok(first, 201)
        assert_replay(first, admin.post("/branches", {"code": "n1", "name": "N"}, idem="br-1"))
        assert_problem(admin.post("/branches", {"code": "n2", "name": "N"}, idem="br-1"), 409,
                       "idempotency_key_reused")
