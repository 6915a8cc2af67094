"""The purchases endpoints: purchases, returns, cancellations, visits and events."""


import pytest
from tests.api.conftest import assert_problem
from tests.api.helpers import (
    ACTIVITY_PROGRAM,
    assert_replay,
    available,
    counts,
    expected_purchase,
    ok,
    purchase_body,
    same_moment,
    seed_points,
    stored,
    strip_reasons,
)

from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase


class TestPostPurchase:
    def test_by_member_id_with_items(self, writer, reader, member, business):
        before = counts()
        response = writer.post("/purchases", purchase_body(member, "R-1", 250_000, channel="pos", items=[
            {"sku": "ESP", "name": "اسپرسو", "category": "coffee", "quantity": 2, "unit_price": 100_000},
            {"sku": "CAKE", "unit_price": 50_000}]))
        body = strip_reasons(ok(response, 201))
        purchase = Purchase.objects.get(business=business, receipt="R-1")
        assert body == expected_purchase(member, purchase.pk, "R-1", 250_000, 20)
        assert not response.has_header("Idempotent-Replayed")
        after = counts()
        assert after["purchases.Purchase"] == before["purchases.Purchase"] + 1
        assert after["purchases.PurchaseLine"] == before["purchases.PurchaseLine"] + 2
        detail = ok(reader.get(f"/purchases/{purchase.pk}"))
        assert [(line["sku"], line["name"], line["category"], line["quantity"], line["unit_price"], line["amount"],
                 line["returned_quantity"]) for line in detail["lines"]] == [
            ("ESP", "اسپرسو", "coffee", 2, 100_000, 200_000, 0), ("CAKE", "", "", 1, 50_000, 50_000, 0)]
        assert detail["channel"] == "pos"

    @pytest.mark.parametrize("ref", ["phone", "phone_fa", "card", "code"])
    def test_by_phone_card_or_code(self, writer, member, card, ref):
        value = {"phone": {"phone": "09121234567"}, "phone_fa": {"phone": "۰۹۱۲۱۲۳۴۵۶۷"},
                 "card": {"card": card.number}, "code": {"code": member.code.lower()}}[ref]
        body = ok(writer.post("/purchases", purchase_body(value, "R-2", 100_000)), 201)
        assert body["member_id"] == member.pk and body["balance"]["points"]["available"] == 10

    def test_redeem_points(self, writer, member, business):
        seed_points(business, member, 1_000)
        body = strip_reasons(ok(writer.post("/purchases", purchase_body(member, "R-3", 300_000,
                                                                        redeem={"points": 250})), 201))
        assert body == expected_purchase(member, body["purchase_id"], "R-3", 300_000, 20, balance_points=820,
                                         points_redeemed=200, points_value=20_000, earning_base=280_000,
                                         payable=280_000)

    def test_redeem_problems(self, writer, member, business):
        seed_points(business, member, 150)
        before = counts()
        body = assert_problem(writer.post("/purchases", purchase_body(member, "R-4", 1_000_000,
                                                                      redeem={"points": 200})), 409,
                              "insufficient_balance")
        assert (body["needed"], body["available"]) == (200, 150)
        for points, code in ((50, "less_than_one_step"), (100, "more_than_amount_due")):
            problem = assert_problem(writer.post("/purchases", purchase_body(member, "R-4", 5_000,
                                                                             redeem={"points": points})),
                                     422, "invalid_input", fields=["redeem.points"])
            assert problem["errors"][0]["code"] == code
        assert counts() == before

    def test_dry_run_writes_nothing(self, writer, member):
        before = counts()
        response = writer.post("/purchases", purchase_body(member, "R-5", 1_000_000, dry_run=True), idem="dry")
        body = strip_reasons(ok(response, 200))
        assert body == expected_purchase(member, None, None, 1_000_000, 100, branch=None, status=None,
                                         dry_run=True, balance_points=100)  # the balance it would leave
        assert counts() == before

    def test_a_branch_bound_key(self, cashier_t1, member):
        before = counts()
        assert_problem(cashier_t1.post("/purchases", purchase_body(member, "R-6", 100_000, branch="v2")), 403,
                       "branch_not_allowed")
        assert counts() == before
        ok(cashier_t1.post("/purchases", purchase_body(member, "R-6", 100_000, branch="t1")), 201)

    def test_the_same_receipt_again_is_a_replay(self, writer, member):
        first = writer.post("/purchases", purchase_body(member, "R-7", 400_000))
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/purchases", purchase_body(member, "R-7", 400_000)))
        assert_replay(first, writer.post("/purchases", purchase_body(member, " R-7 ", 400_000)))
        body = assert_problem(writer.post("/purchases", purchase_body(member, "R-7", 500_000)), 409,
                              "receipt_exists")
        assert body["receipt"] == "R-7"
        assert stored() == before
        # the same receipt at another branch is another purchase
        ok(writer.post("/purchases", purchase_body(member, "R-7", 400_000, branch="v2")), 201)

    def test_the_same_idempotency_key(self, writer, member):
        first = writer.post("/purchases", purchase_body(member, "R-8", 400_000), idem="p-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/purchases", purchase_body(member, "R-8", 400_000), idem="p-1"))
        assert_problem(writer.post("/purchases", purchase_body(member, "R-9", 400_000), idem="p-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    @pytest.mark.parametrize("change, fields", [
        ({"total": "250000"}, ["total"]),
        ({"total": 250000.0}, ["total"]),
        ({"total": 2.5}, ["total"]),
        ({"total": -1}, ["total"]),
        ({"total": 10**16}, ["total"]),
        ({"total": None}, ["total"]),
        ({"items": [{"sku": "A", "unit_price": "100"}]}, ["items.0.unit_price"]),
        ({"items": [{"sku": "A", "unit_price": 100.0}]}, ["items.0.unit_price"]),
        ({"items": [{"sku": "A", "unit_price": 100, "quantity": 1.5}]}, ["items.0.quantity"]),
        ({"items": [{"sku": "A", "unit_price": 100, "quantity": 0}]}, ["items.0.quantity"]),
        ({"items": [{"sku": "A"}]}, ["items.0.unit_price"]),
        ({"redeem": {"points": 100.0}}, ["redeem.points"]),
        ({"redeem": {"points": "100"}}, ["redeem.points"]),
        ({"units": {"km": 1.5}}, ["units.km"]),
        ({"foo": 1}, ["foo"]),
        ({"member": {"member_id": 1, "foo": 1}}, ["member.foo"]),
        ({"items": [{"sku": "A", "unit_price": 1, "color": "red"}]}, ["items.0.color"]),
        ({"redeem": {"coins": 1}}, ["redeem.coins"]),
        ({"occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"occurred_at": "yesterday"}, ["occurred_at"]),
        ({"occurred_at": "2999-01-01T10:00:00+03:30"}, ["occurred_at"]),
        ({"branch": "nowhere"}, ["branch"]),
        ({"receipt": ""}, ["receipt"]),
        ({"receipt": "   "}, ["receipt"]),
        ({"receipt": "r" * 65}, ["receipt"]),
        ({"member": {"phone": "09121234567", "code": "X"}}, ["member"]),
        ({"member": {}}, ["member"]),
        ({"member": {"member_id": "1"}}, ["member.member_id"]),
        ({"codes": ["WELCOME"]}, ["codes.0"]),
        ({"dry_run": "maybe"}, ["dry_run"]),
    ])
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(self, writer, member, change, fields):
        body = purchase_body(member, "BAD-1", 250_000)
        body.update(change)
        if "member" in change and change["member"].get("member_id") == 1:
            body["member"] = {**change["member"], "member_id": member.pk}
        before = counts()
        problem = assert_problem(writer.post("/purchases", body), 422, "invalid_input", fields=fields)
        assert problem["errors"][0]["message"]
        assert counts() == before

    def test_error_codes_for_amounts(self, writer, member):
        problem = assert_problem(writer.post("/purchases", purchase_body(member, total="1")), 422)
        assert problem["errors"][0]["code"] == "must_be_integer"
        problem = assert_problem(writer.post("/purchases", purchase_body(member, occurred_at="2025-01-01T10:00")),
                                 422)
        assert problem["errors"][0]["code"] == "needs_timezone_offset"
        problem = assert_problem(writer.post("/purchases", purchase_body(member, foo=1)), 422)
        assert problem["errors"][0]["code"] == "unknown_field"

    def test_a_blocked_member(self, writer, member):
        ok(writer.patch(f"/members/{member.pk}", {"status": "blocked"}))
        before = counts()
        assert_problem(writer.post("/purchases", purchase_body(member, "R-10")), 409, "member_blocked")
        assert counts() == before

    def test_an_unknown_member(self, writer, member):
        before = counts()
        for ref in ({"member_id": 999_999}, {"phone": "09129999999"}, {"card": "6000000000000000"},
                    {"code": "NOPE123"}):
            assert_problem(writer.post("/purchases", purchase_body(ref)), 404, "member_not_found")
        assert counts() == before


class TestListPurchases:
    def test_list_filters_and_detail(self, business, writer, reader, member, make_member):
        other = make_member()
        a = ok(writer.post("/purchases", purchase_body(member, "A-1", 100_000)), 201)["purchase_id"]
        b = ok(writer.post("/purchases", purchase_body(other, "B-1", 200_000, branch="v2")), 201)["purchase_id"]
        c = ok(writer.post("/purchases", purchase_body(member, "C-1", 300_000, branch="v2")), 201)["purchase_id"]
        assert [p["id"] for p in ok(reader.get("/purchases"))["items"]] == [c, b, a]
        assert [p["id"] for p in ok(reader.get("/purchases", {"member_id": member.pk}))["items"]] == [c, a]
        assert [p["id"] for p in ok(reader.get("/purchases", {"branch": "v2"}))["items"]] == [c, b]
        assert [p["id"] for p in ok(reader.get("/purchases", {"receipt": "B-1"}))["items"]] == [b]
        detail = ok(reader.get(f"/purchases/{a}"))
        effects = detail.pop("effects")
        occurred = detail.pop("occurred_at")
        assert detail == {"id": a, "member_id": member.pk, "branch": "t1", "receipt": "A-1", "channel": "",
                          "total": 100_000, "discount": 0, "payable": 100_000, "returned_amount": 0,
                          "status": "completed", "program_version": 2, "items": [], "lines": [],
                          "other_amount": 0, "points_redeemed": 0, "points_value": 0, "wallet_redeemed": 0,
                          "gift_credit_redeemed": 0, "gift_card_redeemed": 0, "earning_base": 100_000}
        assert same_moment(occurred, Purchase.objects.get(pk=a).occurred_at)
        assert [(e["kind"], e["amount"]) for e in effects] == [("earn", 10)]
        assert ok(reader.get("/purchases"))["items"][2] == {**detail, "effects": effects, "occurred_at": occurred}

    def test_a_branch_bound_key_lists_its_branch_only(self, cashier_t1, purchase, v2_purchase):
        assert [p["id"] for p in ok(cashier_t1.get("/purchases"))["items"]] == [purchase.pk]

    def test_unknown_purchase(self, reader):
        assert_problem(reader.get("/purchases/999999"), 404, "purchase_not_found")
        assert_problem(reader.get("/purchases/99999999999999999999999"), 404, "purchase_not_found")
        assert_problem(reader.get("/purchases/x"), 422, "invalid_input", fields=["purchase_id"])

    def test_pages(self, business, member, reader):
        ids = [record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"PG-{i}",
                               total=1_000)["purchase_id"] for i in range(5)]
        seen, cursor, pages = [], None, 0
        while True:
            body = ok(reader.get("/purchases", {"limit": 2, **({"cursor": cursor} if cursor else {})}))
            pages += 1
            seen += [p["id"] for p in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert (pages, seen) == (3, sorted(ids, reverse=True))
        assert_problem(reader.get("/purchases", {"cursor": "%%%"}), 422, "invalid_input", fields=["cursor"])


class TestReturns:
    def test_by_items_reverses_exactly(self, writer, reader, member, purchase):
        lines = ok(reader.get(f"/purchases/{purchase.pk}"))["lines"]
        first = ok(writer.post(f"/purchases/{purchase.pk}/returns", {"items": [{"sku": "A"}], "reason": "خراب"}),
                   201)
        assert first == {"id": first["return_id"], "return_id": first["return_id"], "purchase_id": purchase.pk,
                         "status": "partially_returned", "returned_amount": 300_000, "returned_total": 300_000,
                         "previously_returned": 0,
                         "reversed": [{"kind": "reverse", "currency": "points", "amount": 30, "unrecovered": 0, "rule_id": "base"}],
                         "member_id": member.pk, "tier": "bronze", "balance": available(points=70)}
        rest = ok(writer.post(f"/purchases/{purchase.pk}/returns", {
            "items": [{"line_id": lines[1]["id"]}, {"sku": "A", "quantity": 1}]}), 201)
        assert {k: v for k, v in rest.items() if k not in ("id", "return_id")} == {
            "purchase_id": purchase.pk, "status": "returned", "returned_amount": 700_000,
            "returned_total": 1_000_000, "previously_returned": 300_000,
            "reversed": [{"kind": "reverse", "currency": "points", "amount": 70, "unrecovered": 0, "rule_id": "base"}],
            "member_id": member.pk, "tier": "bronze", "balance": available(points=0)}
        detail = ok(reader.get(f"/purchases/{purchase.pk}"))
        assert {line["sku"]: line["returned_quantity"] for line in detail["lines"]} == {"A": 2, "B": 1}
        assert (detail["status"], detail["returned_amount"]) == ("returned", 1_000_000)

    def test_lines_keep_their_order_after_a_return(self, business, member, writer, reader):
        lines = [{"sku": f"L{i:03d}", "quantity": 1, "unit_price": 1_000} for i in range(150)]  # > one heap page
        bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="ORD-1", total=150_000,
                                 lines=lines)
        ok(writer.post(f"/purchases/{bought['purchase_id']}/returns", {"items": [{"sku": "L000"}]}), 201)
        expected = [line["sku"] for line in lines]
        assert [line["sku"] for line in ok(reader.get(f"/purchases/{bought['purchase_id']}"))["lines"]] == expected
        assert [line["sku"] for line in ok(reader.get("/purchases"))["items"][0]["lines"]] == expected

    @pytest.mark.parametrize("body, fields, code", [
        ({"amount": 0}, ["amount"], None),
        ({"amount": -5}, ["amount"], None),
        ({"amount": "100"}, ["amount"], "must_be_integer"),
        ({"amount": 100.0}, ["amount"], "must_be_integer"),
        ({"amount": 1_000_001}, ["amount"], "more_than_not_yet_returned"),
        ({}, ["amount"], "give_amount_or_lines"),
        ({"items": [{"sku": "A", "quantity": 0}]}, ["items.0.quantity"], None),
        ({"items": [{"sku": "A", "qty": 1}]}, ["items.0.qty"], "unknown_field"),
        ({"amount": 5, "why": "x"}, ["why"], "unknown_field"),
        ({"reason": "x" * 301, "amount": 5}, ["reason"], "too_long"),
    ])
    def test_bad_input(self, writer, purchase, body, fields, code):
        before = counts()
        problem = assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", body), 422, "invalid_input",
                                 fields=fields)
        if code:
            assert problem["errors"][0]["code"] == code
        assert counts() == before

    @pytest.mark.parametrize("items, fields", [
        ([{"sku": "NOPE"}], ["items.0"]),
        ([{"sku": "A", "quantity": 3}], ["items.0.quantity"]),
        ([{"sku": "B"}, {"sku": "B"}], ["items.1.quantity"]),
    ])
    def test_bad_items_name_the_items_field(self, writer, purchase, items, fields):
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"items": items}), 422, "invalid_input",
                       fields=fields)
        assert counts() == before

    def test_bad_items_are_rejected_and_write_nothing(self, writer, purchase):
        for items, code in (([{"sku": "NOPE"}], "no_such_line"), ([{"sku": "A", "quantity": 3}], "more_than_bought"),
                            ([{"sku": "B"}, {"sku": "B"}], "more_than_bought")):
            before = counts()
            problem = assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"items": items}), 422,
                                     "invalid_input")
            assert [e["code"] for e in problem["errors"]] == [code]
            assert counts() == before

    def test_a_branch_bound_key_returns_only_at_its_branch(self, cashier_t1, purchase, v2_purchase):
        before = counts()
        assert_problem(cashier_t1.post(f"/purchases/{v2_purchase.pk}/returns", {"amount": 1_000}), 403,
                       "branch_not_allowed")
        assert_problem(cashier_t1.post(f"/purchases/{v2_purchase.pk}/cancel", {}), 403, "branch_not_allowed")
        assert counts() == before
        ok(cashier_t1.post(f"/purchases/{purchase.pk}/returns", {"amount": 1_000}), 201)

    def test_replay(self, writer, purchase):
        first = writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 100_000}, idem="ret-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 100_000}, idem="ret-1"))
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 200_000}, idem="ret-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    def test_returning_a_fully_returned_purchase_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 1_000_000}), 201)
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 1}), 409,
                       "purchase_already_reversed")
        assert counts() == before


class TestCancel:
    def test_cancel_reverses_everything_left(self, writer, reader, member, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 250_000}), 201)
        body = ok(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "اشتباه صندوق"}), 201)
        assert {k: v for k, v in body.items() if k not in ("id", "return_id")} == {
            "purchase_id": purchase.pk, "status": "cancelled", "returned_amount": 750_000,
            "returned_total": 1_000_000, "previously_returned": 250_000,
            "reversed": [{"kind": "reverse", "currency": "points", "amount": 75, "unrecovered": 0, "rule_id": "base"}],
            "member_id": member.pk, "tier": "bronze", "balance": available(points=0)}
        assert ok(reader.get(f"/purchases/{purchase.pk}"))["status"] == "cancelled"

    def test_replay(self, writer, purchase, v2_purchase):
        first = writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-1"))
        assert_problem(writer.post(f"/purchases/{v2_purchase.pk}/cancel", {"reason": "x"}, idem="c-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    def test_the_same_key_with_another_reason_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-2"), 201)
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "y"}, idem="c-2"), 409,
                       "idempotency_key_reused")

    def test_bad_input(self, writer, purchase):
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": 5}), 422, fields=["reason"])
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"why": "x"}), 422, fields=["why"])
        assert counts() == before

    def test_a_second_cancel_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/cancel", {}), 201)
        before = counts()
        body = assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {}), 409,
                              "purchase_already_reversed")
        assert body["status"] == 409  # the purchase's status never overwrites the problem's
        assert counts() == before


class TestVisits:
    def test_visit_earns_by_the_program(self, program, writer, member, business):
        program(ACTIVITY_PROGRAM)
        body = ok(writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1", "note": "چکاپ"}),
                  201)
        strip_reasons(body)  # the reason rendered, and as data
        assert body == {"id": body["visit_id"], "visit_id": body["visit_id"], "event_id": None, "program_version": 3,
                        "effects": [{"kind": "earn", "rule_id": "visit", "currency": "points", "amount": 5,
                                     "reward_code": None, "reward_name": None}],
                        "member_id": member.pk, "tier": "bronze", "balance": available(points=5)}
        from vafa.purchases.models import Visit

        visit = Visit.objects.get(pk=body["visit_id"])
        assert (visit.branch.code, visit.note) == ("t1", "چکاپ")

    def test_a_branch_bound_key(self, cashier_t1, member):
        body = ok(cashier_t1.post("/visits", {"member": {"phone": "09121234567"}}), 201)
        from vafa.purchases.models import Visit

        assert Visit.objects.get(pk=body["visit_id"]).branch.code == "t1"
        before = counts()
        assert_problem(cashier_t1.post("/visits", {"member": {"member_id": member.pk}, "branch": "v2"}), 403,
                       "branch_not_allowed")
        assert counts() == before

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}, "branch": "nowhere"}, ["branch"]),
        ({"member": {"member_id": 1}, "units": {"km": "5"}}, ["units.km"]),
        ({"member": {"member_id": 1}, "units": {"km": -5}}, ["units.km"]),
        ({"member": {"member_id": 1}, "occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"member": {"member_id": 1}, "note": "x" * 201}, ["note"]),
        ({"member": {"member_id": 1}, "extra": 1}, ["extra"]),
        ({}, ["member"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        if "member" in body:
            body = {**body, "member": {"member_id": member.pk}}
        before = counts()
        assert_problem(writer.post("/visits", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replay(self, writer, member):
        first = writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1"}, idem="v-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1"},
                                         idem="v-1"))
        assert_problem(writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "v2"}, idem="v-1"),
                       409, "idempotency_key_reused")
        assert stored() == before

    def test_the_same_key_with_another_note_is_409(self, writer, member):
        ok(writer.post("/visits", {"member": {"member_id": member.pk}, "note": "a"}, idem="v-2"), 201)
        assert_problem(writer.post("/visits", {"member": {"member_id": member.pk}, "note": "b"}, idem="v-2"), 409,
                       "idempotency_key_reused")


class TestEvents:
    def test_an_event_rule_rewards_its_event(self, program, writer, member):
        program(ACTIVITY_PROGRAM)
        body = ok(writer.post("/events", {"member": {"code": member.code}, "name": "survey_completed",
                                          "data": {"survey": "nps", "score": 9}}), 201)
        strip_reasons(body)  # the reason rendered, and as data
        assert body == {"id": body["event_id"], "visit_id": None, "event_id": body["event_id"], "program_version": 3,
                        "effects": [{"kind": "earn", "rule_id": "survey", "currency": "points", "amount": 50,
                                     "reward_code": None, "reward_name": None}],
                        "member_id": member.pk, "tier": "bronze", "balance": available(points=50)}
        from vafa.purchases.models import ActivityEvent

        assert ActivityEvent.objects.get(pk=body["event_id"]).data == {"survey": "nps", "score": 9}
        other = ok(writer.post("/events", {"member": {"member_id": member.pk}, "name": "social_share"}), 201)
        assert other["effects"] == [] and other["balance"] == available(points=50)

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}}, ["name"]),
        ({"member": {"member_id": 1}, "name": ""}, ["name"]),
        ({"member": {"member_id": 1}, "name": "   "}, ["name"]),
        ({"member": {"member_id": 1}, "name": "x" * 65}, ["name"]),
        ({"member": {"member_id": 1}, "name": "a", "data": [1]}, ["data"]),
        ({"member": {"member_id": 1}, "name": "a", "occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"member": {"member_id": 1}, "name": "a", "branch": "t1"}, ["branch"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        body = {**body, "member": {"member_id": member.pk}}
        before = counts()
        assert_problem(writer.post("/events", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replay(self, program, writer, member):
        program(ACTIVITY_PROGRAM)
        first = writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed"}, idem="e-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/events", {"member": {"member_id": member.pk},
                                                     "name": "survey_completed"}, idem="e-1"))
        assert_problem(writer.post("/events", {"member": {"member_id": member.pk}, "name": "social_share"},
                                   idem="e-1"), 409, "idempotency_key_reused")
        assert stored() == before
