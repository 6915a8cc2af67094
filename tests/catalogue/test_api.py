"""The catalogue API: scopes, problems, another business's objects, Idempotency-Key replays."""

import json

import pytest
from django.test import Client

from vafa.access.services import create_api_key
from vafa.catalogue.models import Gift, GiftRequest
from vafa.catalogue.selectors import business_today
from vafa.catalogue.services import create_gift, create_group
from vafa.ledger.check import check_ledger
from vafa.ledger.services import spendable
from vafa.outbox.models import OutboxEvent

API = "/api/v1"


def client(business, scope: str) -> Client:
    _, key = create_api_key(business, scope=scope, name=f"test {scope}")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def admin(business):
    return client(business, "admin")


@pytest.fixture
def writer(business):
    return client(business, "write")


@pytest.fixture
def reader(business):
    return client(business, "read")


@pytest.fixture
def outsider(other_business):
    return client(other_business, "admin")


def post(c: Client, path: str, body=None, **headers):
    return c.post(API + path, json.dumps({} if body is None else body), content_type="application/json",
                  **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})


def problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


GIFT = {"title": "ماگ سرامیکی", "price_currency": "coins", "price": 120, "stock": 2,
        "description": "ماگ با لوگوی کافه", "picture": "https://cdn.example/mug.png"}


def test_admin_creates_and_changes_gifts(admin, business):
    group = post(admin, "/gift-groups", {"title": "لوازم", "position": 1})
    assert group.status_code == 201, group.content
    response = post(admin, "/gifts", GIFT | {"group_id": group.json()["id"]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stock"] == 2 and body["group_title"] == "لوازم" and body["price"] == 120
    patched = admin.patch(f"{API}/gifts/{body['id']}", json.dumps({"price": 150, "stock": None}),
                          content_type="application/json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["price"], patched.json()["stock"]) == (150, None)
    problem(admin.patch(f"{API}/gifts/{body['id']}", json.dumps({"price": None}), content_type="application/json"),
            422, "invalid_input")
    assert admin.get(f"{API}/gift-groups").json()[0]["title"] == "لوازم"


def test_gift_input_errors_are_422(admin):
    body = problem(post(admin, "/gifts", {"title": "x", "price_currency": "gold", "price": "10"}), 422,
                   "invalid_input")
    assert {e["field"] for e in body["errors"]} == {"price_currency", "price"}
    problem(post(admin, "/gifts", GIFT | {"price": 0}), 422)
    problem(post(admin, "/gifts", GIFT | {"colour": "red"}), 422)
    body = problem(post(admin, "/gifts", GIFT | {"display_from": "2025-06-10", "display_until": "2025-06-01"}), 422)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("display_until", "before_display_from")]
    assert not Gift.objects.exists()


def test_only_admins_manage_gifts(writer, reader, business):
    problem(post(writer, "/gifts", GIFT), 403, "scope_too_narrow")
    gift = create_gift(business, title="x", price_currency="coins", price=1, partner_name="p")
    problem(writer.patch(f"{API}/gifts/{gift.pk}", "{}", content_type="application/json"), 403)
    problem(post(writer, f"/gifts/{gift.pk}/codes", {"codes": ["A"]}), 403)
    problem(reader.get(f"{API}/gifts", {"all": "true"}), 403)
    problem(post(reader, f"/gifts/{gift.pk}/requests", {"member_id": 1}), 403)


def test_the_catalogue_lists_what_is_on_display_by_group(reader, admin, business):
    today = business_today(business)
    cafe, books = create_group(business, title="کافه", position=2), create_group(business, title="کتاب", position=1)
    create_gift(business, title="قهوه", price_currency="coins", price=10, group_id=cafe.pk)
    create_gift(business, title="رمان", price_currency="points", price=10, group_id=books.pk,
                display_until=today.isoformat())
    create_gift(business, title="دیروز", price_currency="coins", price=10, display_until="2020-01-01")
    create_gift(business, title="خاموش", price_currency="coins", price=10, active=False)
    titles = [g["title"] for g in reader.get(f"{API}/gifts").json()["items"]]
    assert titles == ["رمان", "قهوه"]
    assert [g["title"] for g in reader.get(f"{API}/gifts", {"group_id": cafe.pk}).json()["items"]] == ["قهوه"]
    assert len(admin.get(f"{API}/gifts", {"all": "true"}).json()["items"]) == 4


def test_request_fulfil_ship_over_the_api(writer, reader, business, funded):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=120, stock=2)
    response = post(writer, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "requested" and created["price"] == 120 and "replayed" not in created
    assert spendable(funded, "coins") == 380
    problem(post(writer, f"/gift-requests/{created['id']}/ship"), 409, "gift_request_not_fulfilled")
    fulfilled = post(writer, f"/gift-requests/{created['id']}/fulfil", {"note": "آماده"})
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"
    shipped = post(writer, f"/gift-requests/{created['id']}/ship", {"shipping_note": "پست ۱۲۳"})
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    listed = reader.get(f"{API}/gift-requests", {"status": "shipped", "member_id": funded.pk}).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    assert reader.get(f"{API}/gift-requests", {"status": "requested"}).json()["items"] == []
    problem(reader.get(f"{API}/gift-requests", {"status": "lost"}), 422)
    assert list(OutboxEvent.objects.filter(event_type__startswith="gift.").order_by("pk")
                .values_list("event_type", flat=True)) == ["gift.requested", "gift.fulfilled", "gift.shipped"]
    assert check_ledger() == []


def test_reject_over_the_api_refunds(writer, business, funded):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=120, stock=1)
    created = post(writer, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk}).json()
    rejected = post(writer, f"/gift-requests/{created['id']}/reject", {"note": "تمام شد"})
    assert rejected.status_code == 200 and rejected.json()["refund_entry_id"]
    assert spendable(funded, "coins") == 500 and Gift.objects.get(pk=gift.pk).stock == 1
    problem(post(writer, f"/gift-requests/{created['id']}/fulfil"), 409, "gift_request_not_requested")
    assert check_ledger() == []


def test_conflicts_and_bad_bodies(writer, business, member, make_member):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=120, stock=1)
    body = problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": member.pk}), 409, "insufficient_balance")
    assert body["needed"] == 120 and body["available"] == 0
    problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": "1"}), 422, "invalid_input")
    problem(post(writer, f"/gifts/{gift.pk}/requests", {}), 422)
    problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": member.pk, "x": 1}), 422)
    problem(post(writer, f"/gifts/{gift.pk + 99}/requests", {"member_id": member.pk}), 404, "gift_not_found")
    problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": member.pk + 99}), 404, "member_not_found")
    assert not GiftRequest.objects.exists()
    from vafa.members.balances import adjust

    adjust(business, member.pk, "coins", 500, reason="test")
    other = make_member()
    adjust(business, other.pk, "coins", 500, reason="test")
    assert post(writer, f"/gifts/{gift.pk}/requests", {"member_id": member.pk}).status_code == 201
    problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": other.pk}), 409, "out_of_stock")


def test_idempotency_key_replays_the_first_answer(writer, business, funded):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=120)
    first = post(writer, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk}, **{"Idempotency-Key": "gift-1"})
    again = post(writer, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk}, **{"Idempotency-Key": "gift-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert GiftRequest.objects.count() == 1 and spendable(funded, "coins") == 380
    problem(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk + 1}, **{"Idempotency-Key": "gift-1"}),
            409, "idempotency_key_reused")
    rid = first.json()["id"]
    one = post(writer, f"/gift-requests/{rid}/reject", {}, **{"Idempotency-Key": "rej-1"})
    two = post(writer, f"/gift-requests/{rid}/reject", {}, **{"Idempotency-Key": "rej-1"})
    assert one.status_code == two.status_code == 200 and two["Idempotent-Replayed"] == "true"
    assert spendable(funded, "coins") == 500
    assert check_ledger() == []


def test_partner_codes_over_the_api(admin, writer, business, make_member):
    gift = create_gift(business, title="سینما", price_currency="coins", price=100, partner_name="سینما آزادی")
    imported = post(admin, f"/gifts/{gift.pk}/codes", {"csv": "code\nA-1\nA-2\nA-1\n"})
    assert imported.status_code == 201, imported.content
    assert imported.json() == {"gift_id": gift.pk, "imported": 2, "skipped_duplicates": 1, "available": 2}
    assert post(admin, f"/gifts/{gift.pk}/codes", {"codes": ["A-3"]}).json()["available"] == 3
    problem(post(admin, f"/gifts/{gift.pk}/codes", {}), 422)
    problem(post(admin, f"/gifts/{gift.pk}/codes", {"codes": ["x"], "csv": "y"}), 422)
    assert admin.get(f"{API}/gifts/{gift.pk}").json()["stock"] == 3
    codes = set()
    from vafa.members.balances import adjust

    for _ in range(3):
        m = make_member()
        adjust(business, m.pk, "coins", 100, reason="test")
        codes.add(post(writer, f"/gifts/{gift.pk}/requests", {"member_id": m.pk}).json()["code"])
    assert codes == {"A-1", "A-2", "A-3"}
    assert admin.get(f"{API}/gifts/{gift.pk}").json()["stock"] == 0


def test_another_business_gets_404(outsider, business, funded):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=120, partner_name="p")
    problem(outsider.get(f"{API}/gifts/{gift.pk}"), 404, "gift_not_found")
    problem(outsider.patch(f"{API}/gifts/{gift.pk}", json.dumps({"price": 1}), content_type="application/json"), 404)
    problem(post(outsider, f"/gifts/{gift.pk}/codes", {"codes": ["A"]}), 404)
    problem(post(outsider, f"/gifts/{gift.pk}/requests", {"member_id": funded.pk}), 404)
    assert outsider.get(f"{API}/gifts").json()["items"] == []
    problem(post(outsider, "/gifts", GIFT | {"group_id": create_group(business, title="g").pk}), 422)
    from vafa.catalogue.services import import_partner_codes, request_gift

    import_partner_codes(business, gift.pk, ["A"])
    rid = request_gift(business, funded.pk, gift.pk)["id"]
    for step in ("fulfil", "reject", "ship"):
        problem(post(outsider, f"/gift-requests/{rid}/{step}"), 404, "gift_request_not_found")
    problem(outsider.get(f"{API}/gift-requests/{rid}"), 404)
    assert outsider.get(f"{API}/gift-requests").json()["items"] == []


def test_no_key_is_401(business):
    assert Client().get(f"{API}/gifts").status_code == 401
