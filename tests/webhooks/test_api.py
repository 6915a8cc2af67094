"""The webhooks API: admin only, one business's endpoints, secrets shown once, problems for bad input."""

import pytest
from django.test import Client

from vafa.access.models import AuditEvent
from vafa.access.services import create_api_key
from vafa.members.services import sign_up
from vafa.outbox.services import deliver_due
from vafa.webhooks.models import WebhookDelivery, WebhookEndpoint
from vafa.webhooks.services import create_endpoint, deliver_webhooks, verify_signature

from .test_services import (  # noqa: F401 - the fixtures are used by name
    _clean_environment,
    _loopback_receivers_allowed,
    receiver,
)

URL = "/api/v1/webhooks"
BODY = {"url": "https://shop.example/hooks/vafa", "events": ["member.created", "points.earned"],
        "description": "CRM"}


@pytest.fixture
def api(business):
    _, key = create_api_key(business, scope="admin")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def writer(business):
    _, key = create_api_key(business, scope="write")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT_LANGUAGE="en")


def post(client, path, body=None, **headers):
    return client.post(path, body if body is not None else {}, content_type="application/json", **headers)


def test_register_answers_201_with_the_secret_once(api, business):
    response = post(api, URL, BODY)
    assert response.status_code == 201, response.content
    created = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert created["secret"] == endpoint.secret and created["secret"].startswith("whsec_")
    assert {k: created[k] for k in ("url", "events", "description", "active")} == {**BODY, "active": True}
    assert created["id"] == endpoint.pk and endpoint.business == business

    listed = api.get(URL).json()
    assert [w["id"] for w in listed] == [endpoint.pk] and "secret" not in listed[0]
    one = api.get(f"{URL}/{endpoint.pk}").json()
    assert one["url"] == BODY["url"] and "secret" not in one
    assert AuditEvent.objects.filter(object_type="webhook", object_id=str(endpoint.pk), status_code=201).exists()


def test_register_accepts_an_idempotency_key_and_replays(api):
    first = post(api, URL, BODY, HTTP_IDEMPOTENCY_KEY="hook-1")
    again = post(api, URL, BODY, HTTP_IDEMPOTENCY_KEY="hook-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.count() == 1
    assert post(api, URL, BODY).status_code == 201  # without the header: a second endpoint
    assert WebhookEndpoint.objects.count() == 2


@pytest.mark.parametrize("body, errors", [
    ({**BODY, "url": "ftp://shop.example/h"}, [("url", "not_an_http_url")]),
    ({**BODY, "url": "not a url"}, [("url", "not_an_http_url")]),
    ({**BODY, "events": ["member.created", "member.deleted"]}, [("events.1", "unknown_event")]),
    ({**BODY, "events": []}, [("events", "required")]),
    ({**BODY, "url": "gopher://x", "events": ["nope"]},
     [("url", "not_an_http_url"), ("events.0", "unknown_event")]),
    ({"url": BODY["url"]}, [("events", "required")]),
    ({**BODY, "secret": "mine"}, [("secret", "unknown_field")]),
    ({**BODY, "url": "https://x.example/" + "a" * 500}, [("url", "too_long")]),
])
def test_bad_input_is_a_422_problem_and_writes_nothing(api, body, errors):
    response = post(api, URL, body)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert [(e["field"], e["code"]) for e in problem["errors"]] == errors
    assert all(e["message"] and e["message"] != e["code"] for e in problem["errors"])  # translated
    assert not WebhookEndpoint.objects.exists()


def test_problems_speak_persian_by_default(business, api):
    _, key = create_api_key(business, scope="admin")
    response = post(Client(HTTP_AUTHORIZATION=f"Bearer {key}"), URL, {**BODY, "events": ["x"]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "نوع رویداد ناشناخته است"


def test_a_write_key_may_not_manage_webhooks(writer, business):
    endpoint = create_endpoint(business, url=BODY["url"], events=["*"])
    for response in (post(writer, URL, BODY), writer.get(URL), writer.get(f"{URL}/{endpoint.pk}"),
                     writer.patch(f"{URL}/{endpoint.pk}", {"active": False}, content_type="application/json"),
                     writer.delete(f"{URL}/{endpoint.pk}"), post(writer, f"{URL}/{endpoint.pk}/test"),
                     writer.get(f"{URL}/{endpoint.pk}/deliveries")):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "scope_too_narrow"
    assert WebhookEndpoint.objects.get().active
    assert Client().get(URL).status_code == 401


def test_another_business_webhook_is_not_found(api, other_business):
    theirs = create_endpoint(other_business, url=BODY["url"], events=["*"])
    for response in (api.get(f"{URL}/{theirs.pk}"),
                     api.patch(f"{URL}/{theirs.pk}", {"active": False}, content_type="application/json"),
                     api.delete(f"{URL}/{theirs.pk}"), post(api, f"{URL}/{theirs.pk}/test"),
                     api.get(f"{URL}/{theirs.pk}/deliveries"), api.get(f"{URL}/999999")):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "webhook_not_found"
    assert api.get(URL).json() == []
    theirs.refresh_from_db()
    assert theirs.active and not WebhookDelivery.objects.exists()


def test_patch_changes_events_url_and_active(api, business):
    endpoint_id = post(api, URL, BODY).json()["id"]
    path = f"{URL}/{endpoint_id}"
    response = api.patch(path, {"events": ["*"], "active": False, "url": "http://shop.example/v2"},
                         content_type="application/json")
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in ("events", "active", "url", "description")} == {
        "events": ["*"], "active": False, "url": "http://shop.example/v2", "description": "CRM"}

    bad = api.patch(path, {"events": ["points.lost"], "url": None}, content_type="application/json")
    assert bad.status_code == 422
    assert {(e["field"], e["code"]) for e in bad.json()["errors"]} == {("events.0", "unknown_event"),
                                                                        ("url", "required")}
    assert api.patch(path, {"secret": "x"}, content_type="application/json").status_code == 422
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["*"] and endpoint.url == "http://shop.example/v2" and not endpoint.active


def test_delete_answers_204(api):
    endpoint_id = post(api, URL, BODY).json()["id"]
    response = api.delete(f"{URL}/{endpoint_id}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"{URL}/{endpoint_id}").status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_test_event_and_the_delivery_log(api, business):
    with receiver(statuses=[500]) as rec:
        created = post(api, URL, {"url": rec.url, "events": ["member.created"]}).json()
        queued = post(api, f"{URL}/{created['id']}/test")
        assert queued.status_code == 202, queued.content
        assert queued.json()["event_type"] == "webhook.test" and queued.json()["status"] == "pending"
        sign_up(business, mobile="09125550009")
        deliver_due()
        assert deliver_webhooks() == 1  # the test event meets the 500, the sign-up goes through

        page = api.get(f"{URL}/{created['id']}/deliveries").json()
        assert [d["event_type"] for d in page["items"]] == ["member.created", "webhook.test"]  # newest first
        signup, test = page["items"]
        assert signup["status"] == "delivered" and [a["status_code"] for a in signup["attempts"]] == [200]
        assert test["status"] == "pending" and test["last_status_code"] == 500 and test["next_attempt_at"]
        assert [(a["number"], a["status_code"]) for a in test["attempts"]] == [(1, 500)]
        assert test["attempts"][0]["error"].startswith("HTTP 500")
        assert test["data"]["webhook_id"] == created["id"]

        failed_only = api.get(f"{URL}/{created['id']}/deliveries?status=pending").json()["items"]
        assert [d["id"] for d in failed_only] == [test["id"]]
        assert api.get(f"{URL}/{created['id']}/deliveries?limit=1").json()["next_cursor"]
        assert api.get(f"{URL}/{created['id']}/deliveries?status=lost").status_code == 422

    test_request = next(r for r in rec.requests if r.json["type"] == "webhook.test")
    assert verify_signature(created["secret"], test_request.headers["x-vafa-signature"], test_request.body)


def test_no_test_event_for_a_switched_off_endpoint(api):
    created = post(api, URL, BODY).json()
    api.patch(f"{URL}/{created['id']}", {"active": False}, content_type="application/json")
    response = post(api, f"{URL}/{created['id']}/test")
    assert response.status_code == 409 and response.json()["code"] == "webhook_inactive"
    assert not WebhookDelivery.objects.exists()


def test_webhooks_are_in_the_openapi_document(api):
    schema = api.get("/api/v1/openapi.json").json()
    assert {"/api/v1/webhooks", "/api/v1/webhooks/{webhook_id}", "/api/v1/webhooks/{webhook_id}/deliveries",
            "/api/v1/webhooks/{webhook_id}/test"} <= set(schema["paths"])
    assert schema["paths"]["/api/v1/webhooks"]["post"]["tags"] == ["webhooks"]
