from django.http import HttpResponse
from ninja import Query, Router, Status

from vafa.access.models import Scope
from vafa.api.common import business, idempotent_write, page, write
from vafa.webhooks import selectors, services
from vafa.webhooks.models import WebhookDelivery, WebhookEndpoint
from vafa.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

router = Router(tags=["webhooks"])

SIGNING = ("Each POST is signed: "
           "`X-Vafa-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`; "
           "`X-Vafa-Event-Id` is the same on every retry, so dedupe by it. Failures (anything but 2xx, or no "
           "answer within 5 s) are retried after 10 s, 20 s, 40 s … (at most 6 h apart), 10 attempts in all. "
           "The URL must be a public internet address: loopback, private, link-local and other reserved "
           "addresses are refused (422 `address_not_allowed`), also when a name resolves to one at sending time.")


def webhook_json(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.pk, "url": endpoint.url, "events": list(endpoint.events),
            "description": endpoint.description, "active": endpoint.active,
            "created_at": endpoint.created_at.isoformat()}


def delivery_json(delivery: WebhookDelivery) -> dict:
    return {"id": delivery.pk, "event_id": delivery.event_id, "event_type": delivery.event_type,
            "status": delivery.status, "created_at": delivery.created_at,
            "next_attempt_at": delivery.next_attempt_at if delivery.status == WebhookDelivery.Status.PENDING
            else None,
            "delivered_at": delivery.delivered_at, "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error, "data": delivery.payload,
            "attempts": [{"number": a.number, "at": a.at, "status_code": a.status_code, "error": a.error,
                          "duration_ms": a.duration_ms} for a in delivery.attempt_log.all()]}


@router.post("/webhooks", response={201: WebhookCreated}, summary="Register a webhook endpoint (admin)",
             description="Answers the endpoint with its signing `secret`, shown only this once. " + SIGNING)
def create_webhook(request, payload: WebhookIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN, area="webhooks")
    tenant = business(request)

    def use_case() -> dict:
        endpoint = services.create_endpoint(tenant, url=payload.url, events=payload.events,
                                            description=payload.description)
        return webhook_json(endpoint) | {"secret": endpoint.secret}

    return idempotent_write(request, response, "webhook.create", payload.model_dump(), use_case,
                            object_type="webhook")


@router.get("/webhooks", response=list[WebhookOut], summary="The business's webhook endpoints (admin)")
def list_webhooks(request):
    request.auth.require(Scope.ADMIN, area="webhooks")
    return [webhook_json(e) for e in selectors.endpoints(business(request))]


@router.get("/webhooks/{webhook_id}", response=WebhookOut, summary="A webhook endpoint (admin)")
def get_webhook(request, webhook_id: int):
    request.auth.require(Scope.ADMIN, area="webhooks")
    return webhook_json(selectors.endpoint_by_id(business(request), webhook_id))


@router.patch("/webhooks/{webhook_id}", response=WebhookOut, summary="Change a webhook endpoint (admin)",
              description="Change `url`, `events`, `description`, or switch it off with `active: false` "
                          "(pending deliveries are then given up).")
def update_webhook(request, webhook_id: int, payload: WebhookPatch):
    request.auth.require(Scope.ADMIN, area="webhooks")
    changes = payload.model_dump(exclude_unset=True)
    endpoint, _ = write(request, "webhook.update", {"webhook_id": webhook_id, **changes},
                        lambda: services.update_endpoint(business(request), webhook_id, **changes), status=200,
                        object_type="webhook", object_id=lambda changed: changed.pk)
    return webhook_json(endpoint)


@router.delete("/webhooks/{webhook_id}", response={204: None}, summary="Remove a webhook endpoint (admin)")
def delete_webhook(request, webhook_id: int):
    request.auth.require(Scope.ADMIN, area="webhooks")
    write(request, "webhook.delete", {"webhook_id": webhook_id},
          lambda: services.delete_endpoint(business(request), webhook_id), status=204, object_type="webhook",
          object_id=lambda _: webhook_id)
    return Status(204, None)


@router.get("/webhooks/{webhook_id}/deliveries", response=DeliveryPage,
            summary="Recent deliveries to an endpoint, newest first, each with its attempts (admin)")
def list_deliveries(request, webhook_id: int,
                    status: str | None = Query(None, pattern="^(pending|delivered|failed)$"),
                    cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.ADMIN, area="webhooks")
    endpoint = selectors.endpoint_by_id(business(request), webhook_id)
    return page(selectors.deliveries(endpoint, status), cursor, limit, delivery_json)


@router.post("/webhooks/{webhook_id}/test", response={202: DeliveryOut},
             summary="Send a test event to an endpoint (admin)",
             description="Queues a `webhook.test` delivery, signed and retried like any other; its outcome "
                         "shows in the endpoint's deliveries.")
def test_webhook(request, webhook_id: int, response: HttpResponse):
    request.auth.require(Scope.ADMIN, area="webhooks")
    tenant = business(request)

    def use_case() -> dict:
        delivery = services.send_test(tenant, webhook_id)
        return {"id": delivery.pk, "event_id": str(delivery.event_id), "event_type": delivery.event_type,
                "status": delivery.status, "created_at": delivery.created_at.isoformat(),
                "next_attempt_at": delivery.next_attempt_at.isoformat(), "delivered_at": None,
                "last_status_code": None, "last_error": "", "data": delivery.payload, "attempts": []}

    return idempotent_write(request, response, f"webhook.test:{webhook_id}", {}, use_case, status=202,
                            object_type="webhook_delivery")
