from django.contrib import admin

from vafa.core.models import IdempotencyRecord
from vafa.ledger.admin import ReadOnlyAdmin
from vafa.outbox.models import OutboxEvent


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "status", "attempts", "next_attempt_at", "delivered_at", "business")
    list_filter = ("status", "event_type", "business")
    search_fields = ("event_type", "event_id")
    list_select_related = ("business",)
    ordering = ("-id",)


# The idempotency records belong to vafa.core, which has no admin module; they sit here beside the outbox,
# the other half of "each write exactly once".
@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "operation", "key", "status_code", "business")
    list_filter = ("operation", "status_code", "business")
    search_fields = ("key",)
    list_select_related = ("business",)
    ordering = ("-id",)
