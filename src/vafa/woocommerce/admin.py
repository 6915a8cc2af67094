from django.contrib import admin

from vafa.woocommerce.models import WooConnection, WooOrder


@admin.register(WooConnection)
class WooConnectionAdmin(admin.ModelAdmin):
    list_display = ("id", "business", "branch", "active", "sign_up_unknown", "created_at", "last_delivery_at")
    list_filter = ("active",)
    readonly_fields = ("business", "token", "secret", "created_at", "last_delivery_at")
    fields = ("business", "branch", "active", "sign_up_unknown", "paid_statuses", "token", "secret", "created_at",
              "last_delivery_at")


@admin.register(WooOrder)
class WooOrderAdmin(admin.ModelAdmin):
    list_display = ("order_id", "business", "connection", "last_status", "purchase", "ignored", "updated_at")
    list_filter = ("last_status", "ignored")
    search_fields = ("order_id",)
    readonly_fields = [f.name for f in WooOrder._meta.fields]
