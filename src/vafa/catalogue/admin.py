"""The catalogue, read-only: gifts change through the API (PATCH /gifts/{id}) and requests move only through the
services, so every step takes or refunds the price in the ledger and reaches the outbox."""

from django.contrib import admin

from vafa.catalogue.models import Gift, GiftCode, GiftGroup, GiftRequest
from vafa.ledger.admin import MEMBER_SEARCH, ReadOnlyAdmin


@admin.register(GiftGroup)
class GiftGroupAdmin(ReadOnlyAdmin):
    list_display = ("title", "business", "position")
    list_filter = ("business",)


@admin.register(Gift)
class GiftAdmin(ReadOnlyAdmin):
    list_display = ("title", "business", "group", "price_currency", "price", "stock", "partner_name", "active",
                    "display_from", "display_until")
    list_filter = ("business", "active", "price_currency")
    search_fields = ("title", "partner_name")


@admin.register(GiftRequest)
class GiftRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "business", "member", "gift", "price_currency", "price", "status", "requested_at")
    list_filter = ("business", "status")
    search_fields = MEMBER_SEARCH


@admin.register(GiftCode)
class GiftCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "business", "gift", "status", "request", "handed_out_at")
    list_filter = ("business", "status")
    search_fields = ("code",)
