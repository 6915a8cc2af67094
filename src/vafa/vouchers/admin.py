"""Vouchers, read-only: definitions and codes are created through the API (or the services), so every rule on
amounts, percentages and code formats is checked in one place; redemptions move only with their purchases."""

from django.contrib import admin

from vafa.ledger.admin import MEMBER_SEARCH, ReadOnlyAdmin
from vafa.vouchers.models import Redemption, VoucherCode, VoucherDefinition


@admin.register(VoucherDefinition)
class VoucherDefinitionAdmin(ReadOnlyAdmin):
    list_display = ("name", "business", "kind", "percent", "amount", "order_wide", "starts_on", "ends_on",
                    "used_count", "max_uses_total", "active")
    list_filter = ("business", "kind", "active")
    search_fields = ("name",)


@admin.register(VoucherCode)
class VoucherCodeAdmin(ReadOnlyAdmin):
    list_display = ("code", "business", "definition", "used_count", "max_uses", "status", "created_at")
    list_filter = ("business", "status")
    search_fields = ("code",)


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ("code", "business", "member", "purchase_id", "amount", "status", "created_at", "rolled_back_at")
    list_filter = ("business", "status")
    search_fields = ("code__code", *MEMBER_SEARCH)
