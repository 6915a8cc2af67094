from django.contrib import admin

from vafa.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from vafa.webhooks.services import new_secret


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "business", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description", "business__slug")
    exclude = ("secret",)  # shown once, through the API, when the endpoint is created
    readonly_fields = ("created_at",)

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = new_secret()
        super().save_model(request, obj, form, change)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "at", "status_code", "error", "duration_ms")
    exclude = ("business",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_type", "event_id", "endpoint", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "endpoint__url")
    readonly_fields = ("business", "endpoint", "event_id", "event_type", "payload", "created_at", "attempts",
                       "delivered_at", "last_status_code", "last_error")
    inlines = [WebhookAttemptInline]
