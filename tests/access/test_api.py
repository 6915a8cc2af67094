"""Operators on the API: sessions with CSRF, and the role matrix."""




from tests.api.conftest import assert_problem, csrf_pair
from tests.api.helpers import LOYALTY_TABLE, counts, ok, purchase_body


class TestOperatorSessions:
    def test_a_session_reads(self, operator_client, member):
        owner = operator_client("owner", csrf=False)
        assert ok(owner.get("/program"))["version"] == 2
        assert ok(owner.get(f"/members/{member.pk}"))["id"] == member.pk

    def test_a_post_without_csrf_token_is_rejected(self, operator_client):
        owner = operator_client("owner", csrf=False)
        before = counts()
        assert_problem(owner.post("/members", {"mobile": "09121112233"}), 403)
        secret, _ = csrf_pair()
        owner.client.cookies["csrftoken"] = secret
        assert_problem(owner.post("/members", {"mobile": "09121112233"}, headers={"X-CSRFToken": "wrong" * 8}),
                       403)
        assert counts() == before

    def test_a_post_with_the_csrf_token_succeeds_and_is_audited(self, operator_client, business):
        owner = operator_client("owner")
        body = ok(owner.post("/members", {"mobile": "09121112233"}), 201)
        from vafa.access.models import AuditEvent

        event = AuditEvent.objects.get(business=business, object_type="member")
        assert (event.actor_kind, event.actor_label, event.object_id) == ("operator", "owner-0", str(body["id"]))

    def test_an_inactive_operator_is_401(self, operator_client):
        assert_problem(operator_client("owner", active=False).get("/program"), 401, "unauthorized")

    def test_owner(self, operator_client, member):
        owner = operator_client("owner")
        assert ok(owner.put("/program", {"rules": [], "loyalty_table": LOYALTY_TABLE}))["version"] == 3
        ok(owner.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x"}),
           201)
        ok(owner.post("/branches", {"code": "n1", "name": "N"}), 201)
        ok(owner.post("/purchases", purchase_body(member, "O-1", 100_000, branch="v2")), 201)

    def test_manager(self, operator_client, member):
        manager = operator_client("manager")
        before = counts()
        assert_problem(manager.put("/program", {"rules": []}), 403, "owner_only")
        assert counts() == before
        ok(manager.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                         "reason": "x"}), 201)
        ok(manager.post("/branches", {"code": "n1", "name": "N"}), 201)
        ok(manager.post("/purchases", purchase_body(member, "M-1", 100_000, branch="v2")), 201)

    def test_cashier_bound_to_t1(self, operator_client, member, v2_purchase):
        cashier = operator_client("cashier", branches=("t1",))
        t1 = ok(cashier.post("/purchases", purchase_body(member, "K-1", 100_000, branch="t1")), 201)
        before = counts()
        assert_problem(cashier.post("/purchases", purchase_body(member, "K-2", 100_000, branch="v2")), 403,
                       "branch_not_allowed")
        assert_problem(cashier.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                                     "reason": "x"}), 403, "scope_too_narrow")
        assert_problem(cashier.put("/program", {"rules": []}), 403, "scope_too_narrow")
        assert_problem(cashier.post(f"/purchases/{v2_purchase.pk}/cancel", {}), 403, "branch_not_allowed")
        assert counts() == before
        assert [p["id"] for p in ok(cashier.get("/purchases"))["items"]] == [t1["purchase_id"]]

    def test_analyst_reads_only(self, operator_client, member, purchase):
        analyst = operator_client("analyst")
        for path in ("/program", "/members", f"/members/{member.pk}", f"/members/{member.pk}/balance",
                     f"/members/{member.pk}/ledger", "/purchases", f"/purchases/{purchase.pk}", "/business",
                     "/branches"):
            ok(analyst.get(path))
        before = counts()
        for method, path, body in (
                ("post", "/members", {"mobile": "09121112233"}),
                ("patch", f"/members/{member.pk}", {"first_name": "x"}),
                ("post", f"/members/{member.pk}/cards", {}),
                ("post", "/purchases", purchase_body(member, "AN-1", 100_000)),
                ("post", f"/purchases/{purchase.pk}/returns", {"amount": 1}),
                ("post", f"/purchases/{purchase.pk}/cancel", {}),
                ("post", "/visits", {"member": {"member_id": member.pk}}),
                ("post", "/events", {"member": {"member_id": member.pk}, "name": "x"}),
                ("post", "/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x"}),
                ("post", "/branches", {"code": "n1", "name": "N"}),
                ("put", "/program", {"rules": []})):
            assert_problem(getattr(analyst, method)(path, body), 403, "scope_too_narrow")
        assert counts() == before
