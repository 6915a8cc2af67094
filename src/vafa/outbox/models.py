import uuid

from django.db import models


class OutboxEvent(models.Model):
    """A side effect (webhook, SMS, email) written in the same transaction as the change that caused it and
    delivered after commit, at least once. Receivers dedupe by event_id."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "event_id"], name="outbox_event_id_per_business")]
        indexes = [models.Index(fields=["business", "status", "next_attempt_at"], name="outbox_due_idx"),
                   models.Index(fields=["status", "next_attempt_at"], name="outbox_global_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
