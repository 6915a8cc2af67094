"""Reads: a business's endpoints and their deliveries."""

from django.db.models import Prefetch, QuerySet

from vafa.core.errors import NotFound
from vafa.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoints(business) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(business=business).order_by("pk")


def endpoint_by_id(business, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    """The business's endpoint; another business's (or none) is NotFound, never a hint that it exists."""
    queryset = WebhookEndpoint.objects.filter(business=business, pk=endpoint_id)
    if lock:
        queryset = queryset.select_for_update()
    endpoint = queryset.first()
    if endpoint is None:
        raise NotFound("webhook_not_found")
    return endpoint


def deliveries(endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries with their attempts (oldest attempt first)."""
    queryset = (WebhookDelivery.objects.filter(business_id=endpoint.business_id, endpoint=endpoint)
                .prefetch_related(Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))))
    if status:
        queryset = queryset.filter(status=status)
    return queryset
