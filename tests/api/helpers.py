"""Shared by the API tests split from test_endpoints.py: expected shapes, request bodies and small assertions."""

import datetime as dt
import os

from django.apps import apps

from vafa.members.balances import adjust
from vafa.members.models import Member

ON_POSTGRES = os.environ.get("VAFA_DATABASE_URL", "").startswith("postgres")


ZERO = {"available": 0, "pending": 0}


TIERS = {"basis": "spend", "window_days": 365, "levels": [
    {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
    {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 5_000_000, "multiplier": 2},
    {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": 20_000_000, "multiplier": 3,
     "discount_percent": 5},
]}


LOYALTY_TABLE = {"rates": [{"points": 100, "value": 10_000}]}


PROGRAM_AS_SHOWN = {
    "settings": {"currencies": {"points": {"expiry_days": 365}, "wallet": {"expiry_days": 180}}},
    "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10}],
    "tiers": {"levels": TIERS["levels"]},
    "loyalty_table": LOYALTY_TABLE,
}


ACTIVITY_PROGRAM = {
    "rules": [
        {"id": "base", "kind": "earn", "per": 100_000, "award": 10},
        {"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
        {"id": "survey", "kind": "earn", "on": "event", "event": "survey_completed", "basis": "fixed", "award": 50},
    ],
    "tiers": TIERS,
    "loyalty_table": LOYALTY_TABLE,
}


def counts() -> dict[str, int]:
    """Rows per table of every Vafa model: equal before and after means nothing was written (the rate counters
    count every request, refused or not)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()
            if model.__module__.startswith("vafa.") and model._meta.label != "core.RateCounter"}


def stored() -> dict[str, int]:
    """counts() without the audit trail: a replay is answered (and audited) but stores nothing else."""
    rows = counts()
    rows.pop("access.AuditEvent")
    return rows


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content.decode())
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def same_moment(text: str, moment: dt.datetime) -> bool:
    """JSON times carry milliseconds: the stored time truncated to them."""
    return at(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def balance(points=ZERO, coins=ZERO, wallet=ZERO, gift_credit=ZERO) -> dict:
    return {"points": dict(points), "coins": dict(coins), "wallet": dict(wallet), "gift_credit": dict(gift_credit)}


def available(points=0, coins=0, wallet=0, gift_credit=0) -> dict:
    return balance({"available": points, "pending": 0}, {"available": coins, "pending": 0},
                   {"available": wallet, "pending": 0}, {"available": gift_credit, "pending": 0})


def purchase_body(member, receipt="R-1", total=250_000, branch="t1", **extra) -> dict:
    ref = member if isinstance(member, dict) else {"member_id": member.pk}
    return {"member": ref, "branch": branch, "receipt": receipt, "total": total, **extra}


def seed_points(business, member, amount: int) -> None:
    adjust(business, member.pk, "points", amount, reason="seed")


def member_json(member: Member) -> dict:
    member.refresh_from_db()
    return {"id": member.pk, "code": member.code, "mobile": member.mobile, "first_name": member.first_name,
            "last_name": member.last_name, "email": member.email,
            "birth_date": member.birth_date.isoformat() if member.birth_date else None,
            "anniversary": member.anniversary.isoformat() if member.anniversary else None,
            "gender": member.gender, "job": member.job, "education": member.education,
            "interests": member.interests, "join_source": member.join_source, "status": member.status,
            "tier": member.tier or None}


def without_joined(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "joined_at"}


def assert_replay(first, again) -> None:
    assert again.status_code == first.status_code
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert not first.has_header("Idempotent-Replayed")


def _endpoints(ids):
    """(method, path, body, scope needed) for every write."""
    m, p = ids["member_id"], ids["purchase_id"]
    return [
        ("post", "/members", {"mobile": "09121119999"}, "write"),
        ("patch", f"/members/{m}", {"first_name": "X"}, "write"),
        ("post", f"/members/{m}/cards", {}, "write"),
        ("post", "/purchases", {"member": {"member_id": m}, "branch": "t1", "receipt": "S-1", "total": 100_000},
         "write"),
        ("post", f"/purchases/{p}/returns", {"amount": 1000}, "write"),
        ("post", f"/purchases/{p}/cancel", {}, "write"),
        ("post", "/visits", {"member": {"member_id": m}, "branch": "t1"}, "write"),
        ("post", "/events", {"member": {"member_id": m}, "name": "survey_completed"}, "write"),
        ("post", "/adjustments", {"member_id": m, "currency": "points", "amount": 5, "reason": "x"}, "admin"),
        ("post", "/branches", {"code": "n1", "name": "N"}, "admin"),
        ("put", "/program", {"rules": []}, "admin"),
    ]


ENDPOINT_NAMES = ["members.create", "members.patch", "cards", "purchases", "returns", "cancel", "visits",
                  "events", "adjustments", "branches", "program.put"]


def _by_id(ids, own_branch):
    m, p = ids["member_id"], ids["purchase_id"]
    return [
        ("get", f"/members/{m}", None, "member_not_found"),
        ("patch", f"/members/{m}", {"first_name": "Hacked"}, "member_not_found"),
        ("get", f"/members/{m}/balance", None, "member_not_found"),
        ("get", f"/members/{m}/ledger", None, "member_not_found"),
        ("post", f"/members/{m}/cards", {}, "member_not_found"),
        ("get", f"/purchases/{p}", None, "purchase_not_found"),
        ("post", f"/purchases/{p}/returns", {"amount": 1}, "purchase_not_found"),
        ("post", f"/purchases/{p}/cancel", {}, "purchase_not_found"),
        ("post", "/purchases", {"member": {"member_id": m}, "branch": own_branch, "receipt": "X", "total": 1},
         "member_not_found"),
        ("post", "/purchases", {"member": {"phone": ids["mobile"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/purchases", {"member": {"card": ids["card"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/purchases", {"member": {"code": ids["code"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/program/simulate", {"member": {"member_id": m}, "branch": own_branch, "total": 1},
         "member_not_found"),
        ("post", "/visits", {"member": {"member_id": m}}, "member_not_found"),
        ("post", "/events", {"member": {"member_id": m}, "name": "survey_completed"}, "member_not_found"),
        ("post", "/adjustments", {"member_id": m, "currency": "points", "amount": 5, "reason": "x"},
         "member_not_found"),
    ]


ISOLATION_NAMES = ["member.get", "member.patch", "balance", "ledger", "cards", "purchase.get", "returns",
                   "cancel", "purchase.by_id", "purchase.by_phone", "purchase.by_card", "purchase.by_code",
                   "simulate", "visits", "events", "adjustments"]


def expected_purchase(member, purchase_id, receipt, total, points, *, branch="t1", balance_points=None,
                      **overrides):
    result = {"id": purchase_id, "purchase_id": purchase_id, "receipt": receipt, "branch": branch,
              "status": "completed", "other_amount": 0, "refused_codes": [], "rewards": [],
              "dry_run": False, "program_version": 2, "member_id": member.pk, "total": total, "discount": 0,
              "points_redeemed": 0, "points_value": 0, "wallet_redeemed": 0, "gift_credit_redeemed": 0, "gift_card_redeemed": 0,
              "earning_base": total,
              "payable": total, "tier": "bronze",
              "effects": [{"kind": "earn", "rule_id": "base", "currency": "points", "amount": points,
                           "reward_code": None, "reward_name": None}] if points else [],
              "balance": available(points=points if balance_points is None else balance_points)}
    result.update(overrides)
    return result


def strip_reasons(body: dict) -> dict:
    """The effects without their reasons, each checked: the rendered text, and the reason as data (its code
    and parameters, core.reasons)."""
    for effect in body["effects"]:
        assert effect.pop("reason")
        assert effect.pop("reason_code") and isinstance(effect.pop("reason_params"), dict)
    return body
