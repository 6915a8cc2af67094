"""The WooCommerce delivery URL and the admin API, over HTTP, with recorded WooCommerce payloads sent the way
WooCommerce sends them (PHP's json_encode: compact, \\uXXXX escapes, escaped slashes)."""

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.test import Client

from vafa.access.services import create_api_key
from vafa.members.models import Member
from vafa.purchases.models import Purchase, Return
from vafa.tenancy.models import Branch
from vafa.woocommerce import services
from vafa.woocommerce.models import WooConnection, WooOrder

PAYLOADS = Path(__file__).parent / "payloads"



def wc_body(name: str) -> bytes:
    """A recorded payload as WooCommerce's wp_json_encode puts it on the wire."""
    data = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode()


def wc_headers(secret: str | None, body: bytes, topic: str = "order.updated") -> dict:
    headers = {
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": "https://shop.example.ir/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": "5b2f1c9e0d7a4c3b8e6f1a2d9c0b7e4f",
    }
    if secret is not None:
        headers["X-WC-Webhook-Signature"] = base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return headers


@pytest.fixture
def shop(business):
    return services.create_connection(business, branch_code="v2")


@pytest.fixture
def woo():
    """woo(connection, payload name or raw body, topic=…, secret=…) → the response to a WooCommerce delivery."""
    client = Client(enforce_csrf_checks=True)

    def send(connection, name_or_body, *, topic="order.updated", secret="<connection>", content_type=None):
        body = wc_body(name_or_body) if isinstance(name_or_body, str) else name_or_body
        key = connection.secret if secret == "<connection>" else secret
        return client.post(services.delivery_url(connection), data=body,
                           content_type=content_type or "application/json", headers=wc_headers(key, body, topic))

    return send


def problem_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


# --- the delivery URL ------------------------------------------------------------------------------------


def test_woocommerces_ping_gets_200(shop):
    response = Client().post(services.delivery_url(shop), data=b"webhook_id=7",
                             content_type="application/x-www-form-urlencoded",
                             headers={"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"})

    assert response.status_code == 200
    assert response.json()["ping"] is True
    assert not WooOrder.objects.exists()


def test_an_unknown_or_inactive_delivery_url_is_404(business, shop, woo):
    shop.active = False
    shop.save()

    problem_of(woo(shop, "order_processing"), 404, "woocommerce_connection_not_found")
    response = Client().post(f"/api/v1/woocommerce/{business.pk}-nothing", data=b"webhook_id=7",
                             content_type="application/x-www-form-urlencoded")
    problem_of(response, 404, "woocommerce_connection_not_found")


@pytest.mark.parametrize("secret", ["wrong-secret", None], ids=["wrong", "missing"])
def test_a_bad_signature_is_401_and_writes_nothing(business, shop, member, woo, secret):
    response = woo(shop, "order_processing", secret=secret, topic="order.created")

    problem_of(response, 401, "bad_signature")
    assert not Purchase.objects.exists() and not WooOrder.objects.exists()
    assert Member.objects.filter(business=business).count() == 1
    shop.refresh_from_db()
    assert shop.last_delivery_at is None


def test_a_body_changed_after_signing_is_401(shop, member):
    body = wc_body("order_processing")
    headers = wc_headers(shop.secret, body)
    tampered = body.replace(b'"total":"287000.00"', b'"total":"2870000.00"')
    assert tampered != body

    response = Client().post(services.delivery_url(shop), data=tampered, content_type="application/json",
                             headers=headers)

    problem_of(response, 401, "bad_signature")
    assert not Purchase.objects.exists()


def test_another_connections_secret_does_not_sign(business, shop, member, woo):
    other = services.create_connection(business, branch_code="t1")

    problem_of(woo(shop, "order_processing", secret=other.secret), 401, "bad_signature")


def test_a_paid_order_is_a_purchase_and_replays_do_nothing(shop, member, woo):
    created = woo(shop, "order_processing", topic="order.created")
    replay = woo(shop, "order_processing", topic="order.created")
    updated = woo(shop, "order_completed_same")

    assert created.status_code == 200, created.content.decode()
    body = created.json()
    purchase = Purchase.objects.get()
    assert (body["order_id"], body["status"], body["purchase_id"]) == (1042, "processing", purchase.pk)
    assert body["ignored"] is None
    assert [a["kind"] for a in body["actions"]] == ["purchase"]
    assert (purchase.total, purchase.receipt, purchase.member_id) == (287_000, "woo-1042", member.pk)
    assert sum(e["amount"] for e in body["actions"][0]["effects"] if e["kind"] == "earn") == 20
    assert (replay.status_code, replay.json()["actions"]) == (200, [])
    assert (updated.status_code, updated.json()["actions"]) == (200, [])
    assert Purchase.objects.count() == 1
    row = WooOrder.objects.get()
    assert (row.last_status, row.last_delivery_id) == ("completed", "5b2f1c9e0d7a4c3b8e6f1a2d9c0b7e4f")
    assert Purchase.objects.get().actor_kind == "woocommerce"


def test_a_partial_refund_posted_twice_is_returned_once_and_a_full_refund_cancels(shop, member, woo):
    woo(shop, "order_processing", topic="order.created")

    first = woo(shop, "order_refunded_partial")
    second = woo(shop, "order_refunded_partial")
    refunded = woo(shop, "order_refunded")

    assert [(a["kind"], a["amount"]) for a in first.json()["actions"]] == [("return", 99_000)]
    assert second.json()["actions"] == []
    assert [(a["kind"], a["amount"]) for a in refunded.json()["actions"]] == [("cancel", 188_000)]
    assert sorted(Return.objects.values_list("amount", flat=True)) == [99_000, 188_000]
    assert Purchase.objects.get().status == "cancelled"


def test_a_pending_order_does_nothing(shop, woo):
    response = woo(shop, "order_pending", topic="order.created")

    assert response.status_code == 200
    assert response.json()["actions"] == [] and response.json()["purchase_id"] is None
    assert not Purchase.objects.exists() and not Member.objects.exists()


def test_an_unknown_customer_is_signed_up(business, shop, woo):
    response = woo(shop, "order_processing", topic="order.created")

    assert response.status_code == 200
    member = Member.objects.get(business=business)
    assert (member.mobile, member.join_source) == ("+989121234567", "woocommerce")
    assert Purchase.objects.get().member_id == member.pk


def test_no_customer_to_credit_is_202(business, woo):
    connection = services.create_connection(business, branch_code="t1", sign_up_unknown=False)

    response = woo(connection, "order_processing", topic="order.created")

    assert response.status_code == 202
    assert response.json()["ignored"] == "no_member"
    assert not Purchase.objects.exists()


def test_usd_amounts_over_http(other_business, woo):
    connection = services.create_connection(other_business, branch_code="main")

    response = woo(connection, "order_usd", topic="order.created")

    assert response.status_code == 200, response.content.decode()
    purchase = Purchase.objects.get(business=other_business)
    assert purchase.total == 1250
    assert sorted(purchase.lines.values_list("unit_price", flat=True)) == [125, 875]


def test_a_signed_body_that_is_not_json_is_400(shop, woo):
    problem_of(woo(shop, b"<html>oops</html>"), 400, "bad_request")


def test_an_order_with_a_bad_amount_is_422_and_writes_nothing(other_business, woo):
    connection = services.create_connection(other_business, branch_code="main")
    body = wc_body("order_usd").replace(b'"total":"12.50"', b'"total":"12.505"')

    problem = problem_of(woo(connection, body), 422, "invalid_input")

    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("total", "not_exact_amount")]
    assert not Purchase.objects.exists() and not Member.objects.exists() and not WooOrder.objects.exists()


def test_other_topics_are_acknowledged_and_ignored(shop, woo):
    response = woo(shop, b'{"id":87,"name":"x"}', topic="product.updated")

    assert response.status_code == 202
    assert response.json()["ignored"] == "not_an_order_topic"


def test_a_bearer_key_is_not_needed_and_not_enough(business, shop, member):
    key = create_api_key(business, scope="admin")[1]
    body = wc_body("order_processing")
    headers = wc_headers(None, body) | {"Authorization": f"Bearer {key}"}

    response = Client().post(services.delivery_url(shop), data=body, content_type="application/json",
                             headers=headers)

    problem_of(response, 401, "bad_signature")


# --- the admin API ---------------------------------------------------------------------------------------


def bearer(business, scope: str, branch=None) -> dict:
    return {"Authorization": f"Bearer {create_api_key(business, scope=scope, branch=branch)[1]}"}


def test_an_admin_connects_a_shop_and_the_delivery_url_works(business, member):
    client = Client()
    headers = bearer(business, "admin")

    response = client.post("/api/v1/integrations/woocommerce", data={"branch": "v2"},
                           content_type="application/json", headers=headers)

    assert response.status_code == 201, response.content.decode()
    created = response.json()
    connection = WooConnection.objects.get()
    assert created["id"] == connection.pk
    assert created["delivery_url"] == f"/api/v1/woocommerce/{connection.token}"
    assert created["secret"] == connection.secret
    assert (created["branch"], created["sign_up_unknown"], created["paid_statuses"]) == (
        "v2", True, ["processing", "completed"])

    body = wc_body("order_processing")
    delivered = client.post(created["delivery_url"], data=body, content_type="application/json",
                            headers=wc_headers(created["secret"], body, "order.created"))
    assert delivered.status_code == 200
    assert Purchase.objects.get().branch.code == "v2"

    listing = client.get("/api/v1/integrations/woocommerce", headers=headers)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [item["id"] for item in items] == [connection.pk]
    assert "secret" not in items[0] and connection.secret not in listing.content.decode()
    assert items[0]["last_delivery_at"] is not None


def test_connecting_needs_admin_scope_and_a_real_branch(business):
    client = Client()

    writer = client.post("/api/v1/integrations/woocommerce", data={"branch": "v2"}, content_type="application/json",
                         headers=bearer(business, "write"))
    problem_of(writer, 403, "scope_too_narrow")
    assert problem_of(client.get("/api/v1/integrations/woocommerce"), 401, "unauthorized")

    bad = client.post("/api/v1/integrations/woocommerce",
                      data={"branch": "nowhere", "paid_statuses": ["refunded"]}, content_type="application/json",
                      headers=bearer(business, "admin"))
    problem = problem_of(bad, 422, "invalid_input")
    assert [e["field"] for e in problem["errors"]] == ["branch", "paid_statuses.0"]
    assert not WooConnection.objects.exists()


def test_a_branch_bound_admin_key_connects_only_its_branch(business):
    t1 = Branch.objects.get(business=business, code="t1")
    headers = bearer(business, "admin", branch=t1)
    client = Client()

    refused = client.post("/api/v1/integrations/woocommerce", data={"branch": "v2"},
                          content_type="application/json", headers=headers)
    allowed = client.post("/api/v1/integrations/woocommerce", data={"branch": "t1"},
                          content_type="application/json", headers=headers)

    problem_of(refused, 403, "branch_not_allowed")
    assert allowed.status_code == 201


def test_another_business_sees_no_connection(business, other_business, shop):
    response = Client().get("/api/v1/integrations/woocommerce", headers=bearer(other_business, "admin"))

    assert response.status_code == 200 and response.json()["items"] == []
