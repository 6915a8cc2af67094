from django.http import HttpResponse
from ninja import Router, Status

from vafa.access.models import Scope
from vafa.api.auth import client_ip
from vafa.api.common import business, idempotent_write
from vafa.api.problems import problem
from vafa.core.errors import InvalidInput
from vafa.tenancy.models import Branch
from vafa.woocommerce import services
from vafa.woocommerce.models import WooConnection
from vafa.woocommerce.schemas import ConnectionCreated, ConnectionIn, ConnectionList, WebhookOut

router = Router(tags=["woocommerce"])


def connection_json(connection: WooConnection) -> dict:
    return {"id": connection.pk, "branch": connection.branch.code, "delivery_url": services.delivery_url(connection),
            "sign_up_unknown": connection.sign_up_unknown, "paid_statuses": connection.paid_statuses,
            "active": connection.active, "created_at": connection.created_at.isoformat(),
            "last_delivery_at": connection.last_delivery_at.isoformat() if connection.last_delivery_at else None}


@router.post("/integrations/woocommerce", response={201: ConnectionCreated}, summary="Connect a WooCommerce shop",
             description="Answers the delivery URL and the secret to enter in WooCommerce → Settings → Advanced → "
                         "Webhooks (docs/woocommerce.md). The secret signs deliveries; the list never shows it.")
def create_connection(request, payload: ConnectionIn, response: HttpResponse):
    # The secret lets whoever holds it register purchases: a credential, administered like API keys. It
    # registers them in one branch, so a key bound to that branch may make it.
    request.auth.require(Scope.ADMIN, "api_keys", in_branch=True)
    tenant = business(request)
    branch_id = Branch.objects.filter(business=tenant, code=payload.branch).values_list("id", flat=True).first()
    if branch_id is not None:
        request.auth.require_branch(branch_id)

    def use_case() -> dict:
        connection = services.create_connection(tenant, branch_code=payload.branch,
                                                sign_up_unknown=payload.sign_up_unknown,
                                                paid_statuses=payload.paid_statuses)
        return connection_json(connection) | {"secret": connection.secret}

    return idempotent_write(request, response, "woocommerce.connect", payload.model_dump(), use_case,
                            object_type="woocommerce_connection")


@router.get("/integrations/woocommerce", response=ConnectionList, summary="WooCommerce connections (no secrets)")
def list_connections(request):
    request.auth.require(Scope.ADMIN, "api_keys")
    rows = WooConnection.objects.filter(business=business(request)).select_related("branch").order_by("id")
    return {"items": [connection_json(row) for row in rows if request.auth.may_use_branch(row.branch_id)]}


@router.post("/woocommerce/{token}", auth=None, url_name="woocommerce_webhook",
             response={200: WebhookOut, 202: WebhookOut},
             summary="WooCommerce order webhook (delivery URL)",
             description="Public: WooCommerce's X-WC-Webhook-Signature (base64 HMAC-SHA256 of the raw body with "
                         "the connection's secret) authenticates the delivery. Topics order.created, "
                         "order.updated, order.restored and order.deleted. A paid order becomes purchase "
                         "`woo-<order id>`, refunds become returns, a refunded or cancelled order is cancelled; "
                         "every delivery is idempotent by order id. 202 with `ignored` when nothing was done "
                         "on purpose (no customer to credit, another currency, blocked member).")
def receive(request, token: str):
    connection = services.connection_for_token(token)
    if connection is None:
        return problem(request, 404, "woocommerce_connection_not_found")
    body = request.body
    if services.is_ping(body):
        return Status(200, {"ping": True})
    if not services.signature_ok(connection.secret, body, request.headers.get("X-WC-Webhook-Signature")):
        return problem(request, 401, "bad_signature")
    try:
        payload = services.parse_body(body)
    except InvalidInput as exc:
        return problem(request, 400, "bad_request", errors=exc.errors)
    outcome = services.handle_delivery(connection, payload, topic=request.headers.get("X-WC-Webhook-Topic"),
                                       delivery_id=request.headers.get("X-WC-Webhook-Delivery-ID", ""),
                                       ip=client_ip(request))
    return Status(outcome.status, outcome.body)
