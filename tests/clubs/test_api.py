"""Club types over the API: plans, subscriptions, causes and donations, the partner network; 422 naming the
field with nothing written, 403 for a narrow scope, 404 for another business's member."""

from django.apps import apps
from tests.api.conftest import assert_problem

from vafa.members.balances import adjust


def club_rows() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_app_config("clubs").get_models()}


def test_plans_and_a_subscription(business, member, with_plans, reader, writer):
    plans = reader.get("/plans").json()
    assert plans[0] == {"code": "vip", "name": "ویژه", "price": 500_000, "period": "monthly", "multiplier": "2",
                        "discount_percent": "10", "perks": ["ارسال رایگان"]}
    adjust(business, member.pk, "wallet", 500_000, reason="top-up")
    made = writer.post(f"/members/{member.pk}/subscriptions", {"plan": "vip"}, idem="s1")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["plan"], body["payment"], body["auto_renew"]) == ("vip", "wallet", True)
    assert body["balance"]["wallet"]["available"] == 0
    replay = writer.post(f"/members/{member.pk}/subscriptions", {"plan": "vip"}, idem="s1")
    assert replay.json() == body and replay["Idempotent-Replayed"] == "true"
    listed = reader.get(f"/members/{member.pk}/subscriptions").json()
    assert [s["id"] for s in listed] == [body["id"]]
    stopped = writer.post(f"/subscriptions/{body['id']}/stop-renewal")
    assert stopped.status_code == 200 and stopped.json()["auto_renew"] is False


def test_subscription_problems(business, member, with_plans, reader, writer, outsider):
    before = club_rows()
    assert_problem(writer.post(f"/members/{member.pk}/subscriptions", {"plan": "nope"}), 422, fields=["plan"])
    assert_problem(writer.post(f"/members/{member.pk}/subscriptions", {"plan": "vip", "payment": "cash"}), 422)
    assert_problem(writer.post(f"/members/{member.pk}/subscriptions", {"plan": "vip"}), 409, "insufficient_balance")
    assert_problem(reader.post(f"/members/{member.pk}/subscriptions", {"plan": "vip"}), 403)
    assert_problem(outsider.post(f"/members/{member.pk}/subscriptions", {"plan": "vip"}), 404)
    assert club_rows() == before
    made = writer.post(f"/members/{member.pk}/subscriptions", {"plan": "vip", "payment": "external"}).json()
    assert_problem(outsider.post(f"/subscriptions/{made['id']}/stop-renewal"), 404)
    assert_problem(outsider.get(f"/members/{member.pk}/subscriptions"), 404)


def test_causes_and_donations(business, member, admin, writer, reader, outsider):
    assert_problem(writer.post("/causes", {"code": "trees", "name": "کاشت درخت"}), 403)
    made = admin.post("/causes", {"code": "trees", "name": "کاشت درخت", "goal": 10_000})
    assert made.status_code == 201, made.content
    assert_problem(admin.post("/causes", {"code": "trees", "name": "again"}), 409)
    assert_problem(admin.post("/causes", {"code": "Bad Code", "name": "x"}), 422, fields=["code"])
    adjust(business, member.pk, "points", 300, reason="test")
    gave = writer.post(f"/members/{member.pk}/donations", {"cause": "trees", "points": 120})
    assert gave.status_code == 201 and gave.json()["balance"]["points"]["available"] == 180
    assert_problem(writer.post(f"/members/{member.pk}/donations", {"cause": "trees", "points": 1000}), 409,
                   "insufficient_balance")
    assert_problem(writer.post(f"/members/{member.pk}/donations", {"cause": "trees", "points": "12"}), 422)
    assert_problem(outsider.post(f"/members/{member.pk}/donations", {"cause": "trees", "points": 1}), 404)
    assert reader.get("/causes").json() == [{"code": "trees", "name": "کاشت درخت", "description": "",
                                             "goal": 10_000, "active": True, "points": 120, "donors": 1}]
    assert outsider.get("/causes").json() == []


def test_the_partner_network(business, member, admin, reader, outsider, other_business):
    from vafa.members.services import sign_up

    sign_up(other_business, mobile="09127777777")
    assert_problem(reader.post("/partners/other"), 403)
    assert_problem(reader.get("/partners/other/members", {"mobile": "09127777777"}), 403, "no_partnership")
    assert admin.post("/partners/other").json()["state"] == "offered"
    assert outsider.get("/partners").json() == [{"partner": "cafe", "name": "کافه وفا", "state": "invited"}]
    assert outsider.post("/partners/cafe").json()["state"] == "active"
    found = reader.get("/partners/other/members", {"mobile": "09127777777"}).json()
    assert found["member"] is True and "balance" not in found
    assert admin.delete("/partners/other").json()["state"] == "invited"
    assert_problem(reader.get("/partners/other/members", {"mobile": "09127777777"}), 403)
    assert_problem(admin.post("/partners/nowhere"), 404)
