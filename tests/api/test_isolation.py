"""Tenant isolation: another business's objects are 404 problems, both ways."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import ISOLATION_NAMES, _by_id, counts, member_json, ok


class TestTenantIsolation:
    @pytest.mark.parametrize("index", range(len(ISOLATION_NAMES)), ids=ISOLATION_NAMES)
    def test_cafe_objects_are_404_for_the_other_business(self, index, business, member, card, purchase,
                                                         outsider):
        ids = {"member_id": member.pk, "purchase_id": purchase.pk, "mobile": member.mobile,
               "card": card.number, "code": member.code}
        method, path, body, code = _by_id(ids, "main")[index]
        before, member_before = counts(), member_json(member)
        response = getattr(outsider, method)(path, body) if body is not None else outsider.get(path)
        assert_problem(response, 404, code)
        assert counts() == before
        assert member_json(member) == member_before

    @pytest.mark.parametrize("index", range(len(ISOLATION_NAMES)), ids=ISOLATION_NAMES)
    def test_other_business_objects_are_404_for_the_cafe(self, index, other_member, other_card, other_purchase,
                                                         admin):
        ids = {"member_id": other_member.pk, "purchase_id": other_purchase.pk, "mobile": other_member.mobile,
               "card": other_card.number, "code": other_member.code}
        method, path, body, code = _by_id(ids, "t1")[index]
        before, member_before = counts(), member_json(other_member)
        response = getattr(admin, method)(path, body) if body is not None else admin.get(path)
        assert_problem(response, 404, code)
        assert counts() == before
        assert member_json(other_member) == member_before

    def test_lists_show_only_the_callers_business(self, member, card, purchase, other_member, other_purchase,
                                                  admin, outsider):
        assert [m["id"] for m in ok(admin.get("/members"))["items"]] == [member.pk]
        assert [m["id"] for m in ok(outsider.get("/members"))["items"]] == [other_member.pk]
        for query in ({"phone": member.mobile}, {"card": card.number}, {"code": member.code}, {"q": "علی"}):
            assert ok(outsider.get("/members", query)) == {"items": [], "next_cursor": None}
        assert [p["id"] for p in ok(admin.get("/purchases"))["items"]] == [purchase.pk]
        assert [p["id"] for p in ok(outsider.get("/purchases"))["items"]] == [other_purchase.pk]
        assert ok(outsider.get("/purchases", {"member_id": member.pk}))["items"] == []
        assert [b["code"] for b in ok(outsider.get("/branches"))] == ["main"]
        assert ok(outsider.get("/business"))["slug"] == "other"

    def test_a_referral_code_of_another_business_is_unknown(self, writer, other_member):
        before = counts()
        response = writer.post("/members", {"mobile": "09121112233", "referral_code": other_member.code})
        body = assert_problem(response, 422, "invalid_input", fields=["referral_code"])
        assert body["errors"][0]["code"] == "unknown_referral_code"
        assert counts() == before

    def test_idempotency_keys_are_per_business(self, member, other_member, writer, outsider):
        first = writer.post("/members", {"mobile": "09121112233"}, idem="shared-key")
        ok(first, 201)
        second = outsider.post("/members", {"mobile": "09121112233"}, idem="shared-key")
        ok(second, 201)
        assert not second.has_header("Idempotent-Replayed")
        assert second.json()["id"] != first.json()["id"]
