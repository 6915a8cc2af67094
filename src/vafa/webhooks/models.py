"""A business's webhook endpoints, one delivery per (endpoint, event), and the log of every attempt."""

import uuid

from django.db import models
from django.utils import timezone

# Every event type a business may subscribe to. Later issues that emit new events add them here (and only
# here): the API's validation, the docs and the fan-out all read this tuple. "*" subscribes to all of them.
EVENT_TYPES: tuple[str, ...] = (
    "member.created", "member.updated",
    "purchase.created", "purchase.returned", "purchase.cancelled",
    "points.earned", "points.spent", "points.expiring", "points.expired", "points.converted",
    "credit.earned", "credit.spent", "credit.returned", "credit.expiring", "credit.expired",
    "balance.adjusted", "giftcard.issued", "giftcard.spent",
    "tier.changed", "referral.rewarded",
    "reward.issued", "reward.used", "reward.returned", "reward.revoked",
    "visit.recorded", "event.recorded",
    "gift.requested", "gift.fulfilled", "gift.rejected", "gift.shipped",
    "member.admitted", "plan.started", "plan.renewed", "plan.expiring", "plan.expired", "plan.renewal_stopped",
    "cause.donated", "partnership.changed",
    "purchase_claim.created", "purchase_claim.approved", "purchase_claim.rejected",
)
ALL_EVENTS = "*"
TEST_EVENT = "webhook.test"  # sent only by "test this endpoint"; no one subscribes to it


class WebhookEndpoint(models.Model):
    """A URL of the business that receives the events it chose, signed with its own secret."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True, default="")
    # HMAC key for X-Vafa-Signature. Kept in clear because signing needs it; shown to the business once.
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list)  # event types from EVENT_TYPES, or ["*"]
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["business", "active"], name="webhook_endpoint_active_idx")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint, retried until the endpoint answers 2xx or we give up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4)  # the outbox event's id: receivers dedupe by it
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)  # when the event happened
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "endpoint", "event_id"],
                                               name="webhook_delivery_once_per_endpoint")]
        indexes = [models.Index(fields=["business", "status", "next_attempt_at"], name="webhook_due_idx"),
                   models.Index(fields=["status", "next_attempt_at"], name="webhook_global_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: when, how long, and what came back (a status code or a network error)."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["business", "delivery", "number"], name="webhook_attempt_idx")]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"
