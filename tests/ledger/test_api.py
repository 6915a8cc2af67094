"""The ledger endpoints: balances, entries, adjustments."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.api.conftest import assert_problem
from tests.api.helpers import (
    LOYALTY_TABLE,
    TIERS,
    assert_replay,
    at,
    available,
    balance,
    counts,
    ok,
    purchase_body,
    seed_points,
    stored,
)

from vafa.members.balances import adjust


class TestBalance:
    def test_every_balance_the_tier_and_what_expires(self, program, writer, admin, reader, member):
        program({"settings": {"currencies": {"points": {"expiry_days": 20},
                                             "wallet": {"expiry_days": 180, "pending_days": 14}}},
                 "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                           {"id": "cb", "kind": "cashback", "percent": 5}],
                 "tiers": TIERS, "loyalty_table": LOYALTY_TABLE})
        when = (timezone.now() - dt.timedelta(days=1)).replace(microsecond=0)
        ok(writer.post("/purchases", purchase_body(member, "B-1", 6_000_000, occurred_at=when.isoformat())), 201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "coins", "amount": 7, "reason": "c"}), 201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "gift_credit", "amount": 50_000,
                                       "reason": "g"}), 201)
        body = ok(reader.get(f"/members/{member.pk}/balance"))
        expiring = body.pop("expiring_soon")
        assert body == {
            "member_id": member.pk,
            "points": {"available": 600, "pending": 0},
            "coins": {"available": 7, "pending": 0},
            "wallet": {"available": 0, "pending": 300_000},
            "gift_credit": {"available": 50_000, "pending": 0},
            "gift_credit_restrictions": [],
            "tier": {"code": "silver", "name": "نقره‌ای", "metric": 6_000_000, "next_code": "gold",
                     "next_name": "طلایی", "remaining_to_next": 14_000_000},
        }
        assert [(e["currency"], e["amount"], at(e["expires_at"])) for e in expiring] == [
            ("points", 600, when + dt.timedelta(days=20))]
        assert ok(reader.get(f"/members/{member.pk}/balance", {"expiring_days": 10}))["expiring_soon"] == []

    def test_a_new_member(self, reader, member):
        assert ok(reader.get(f"/members/{member.pk}/balance")) == {
            "member_id": member.pk, **balance(), "gift_credit_restrictions": [],
            "tier": {"code": "bronze", "name": "برنزی", "metric": 0, "next_code": "silver",
                     "next_name": "نقره‌ای", "remaining_to_next": 5_000_000},
            "expiring_soon": []}

    def test_bad_query(self, reader, member):
        for days in (0, 3651, "x"):
            assert_problem(reader.get(f"/members/{member.pk}/balance", {"expiring_days": days}), 422,
                           "invalid_input", fields=["expiring_days"])


class TestLedger:
    def test_newest_first_with_reasons_and_signed_amounts(self, business, member, writer, admin, reader):
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 500,
                                       "reason": "جبران تأخیر"}), 201)
        purchase = ok(writer.post("/purchases", purchase_body(member, "L-1", 300_000, redeem={"points": 100})),
                      201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": -50,
                                       "reason": "اصلاح"}), 201)
        items = ok(reader.get(f"/members/{member.pk}/ledger"))["items"]
        assert [(e["kind"], e["currency"], e["amount"], e["account"], e["purchase_id"], e["rule_id"])
                for e in items] == [
            ("adjust", "points", -50, "available", None, ""),
            ("earn", "points", 20, "available", purchase["purchase_id"], "base"),
            ("spend", "points", -100, "available", purchase["purchase_id"], ""),
            ("adjust", "points", 500, "available", None, ""),
        ]
        assert items[0]["reason"] == "اصلاح" and items[3]["reason"] == "جبران تأخیر"
        assert "L-1" in items[2]["reason"] and items[1]["reason"]
        assert [e["actor_label"] for e in items] == ["test admin", "test write", "test write", "test admin"]
        assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
        assert sum(e["amount"] for e in items) == 370
        assert ok(reader.get(f"/members/{member.pk}/balance"))["points"] == {"available": 370, "pending": 0}
        assert ok(reader.get(f"/members/{member.pk}/ledger", {"currency": "wallet"})) == {"items": [],
                                                                                          "next_cursor": None}

    def test_returns_show_as_negative(self, member, purchase, writer, reader):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 500_000}), 201)
        items = ok(reader.get(f"/members/{member.pk}/ledger"))["items"]
        assert [(e["kind"], e["amount"]) for e in items] == [("reverse", -50), ("earn", 100)]

    def test_pages(self, business, member, reader):
        for amount in range(1, 6):
            adjust(business, member.pk, "points", amount, reason=f"r{amount}")
        seen, cursor = [], None
        while True:
            body = ok(reader.get(f"/members/{member.pk}/ledger", {"limit": 2, **({"cursor": cursor} if cursor
                                                                                  else {})}))
            seen += [e["amount"] for e in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == [5, 4, 3, 2, 1]
        assert_problem(reader.get(f"/members/{member.pk}/ledger", {"cursor": "garbage!"}), 422,
                       "invalid_input", fields=["cursor"])


class TestAdjustments:
    def test_credit_then_debit_exactly(self, admin, reader, member):
        credit = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 500,
                                                "reason": " جبران "}), 201)
        assert credit == {"entry_id": credit["entry_id"], "member_id": member.pk, "currency": "points",
                          "amount": 500, "reason": "جبران", "balance": available(points=500)}
        debit = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": -500,
                                               "reason": "اصلاح"}), 201)
        assert (debit["amount"], debit["balance"]) == (-500, available())
        wallet = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "wallet", "amount": 12_345,
                                                "reason": "w"}), 201)
        assert wallet["balance"] == available(wallet=12_345)
        assert ok(reader.get(f"/members/{member.pk}/balance"))["wallet"] == {"available": 12_345, "pending": 0}

    def test_a_debit_beyond_the_balance_is_409_and_writes_nothing(self, admin, member, business):
        seed_points(business, member, 100)
        before = counts()
        body = assert_problem(admin.post("/adjustments", {"member_id": member.pk, "currency": "points",
                                                          "amount": -101, "reason": "x"}), 409,
                              "insufficient_balance")
        assert (body["needed"], body["available"], body["currency"]) == (101, 100, "points")
        assert counts() == before

    def test_write_key_is_403(self, writer, member):
        before = counts()
        assert_problem(writer.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                                    "reason": "x"}), 403, "scope_too_narrow")
        assert counts() == before

    @pytest.mark.parametrize("change, fields", [
        ({"amount": 0}, ["amount"]),
        ({"amount": "5"}, ["amount"]),
        ({"amount": 5.0}, ["amount"]),
        ({"amount": 10**16}, ["amount"]),
        ({"currency": "euro"}, ["currency"]),
        ({"reason": ""}, ["reason"]),
        ({"reason": "   "}, ["reason"]),
        ({"member_id": 0}, ["member_id"]),
        ({"member_id": "1"}, ["member_id"]),
        ({"note": "x"}, ["note"]),
        ({"currency": "euro", "amount": 0, "reason": "  "}, ["currency", "amount", "reason"]),
    ])
    def test_bad_input(self, admin, member, change, fields):
        body = {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x", **change}
        before = counts()
        assert_problem(admin.post("/adjustments", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_missing_fields(self, admin):
        before = counts()
        assert_problem(admin.post("/adjustments", {}), 422, "invalid_input",
                       fields=["member_id", "currency", "amount", "reason"])
        assert counts() == before

    def test_replay(self, admin, member):
        body = {"member_id": member.pk, "currency": "points", "amount": 40, "reason": "x"}
        first = admin.post("/adjustments", body, idem="a-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, admin.post("/adjustments", body, idem="a-1"))
        assert_problem(admin.post("/adjustments", {**body, "amount": 41}, idem="a-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before
