from django.contrib import admin

from vafa.messaging.models import Broadcast, Message, MessageTemplate, MessagingSettings, OptOut


@admin.register(MessagingSettings)
class MessagingSettingsAdmin(admin.ModelAdmin):
    list_display = ("business", "sms_provider", "sms_sender", "updated_at")
    exclude = ("sms_api_key_encrypted", "inbound_token")  # set through the API; never shown


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "business", "kind", "to", "state", "parts", "cost")
    list_filter = ("state", "message_class", "channel")
    search_fields = ("to", "provider_message_id", "business__slug")
    readonly_fields = [f.name for f in Message._meta.fields]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("business", "kind", "language", "updated_at")


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = ("business", "state", "send_at", "recipients", "promotional")


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ("business", "member", "everything", "how", "at")
