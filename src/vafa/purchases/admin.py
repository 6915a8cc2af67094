"""Purchases and everything they caused, read-only: returns and cancellations go through the services
(`return_purchase`, `cancel_purchase`) so the ledger reverses exactly what was earned and spent."""

from django.contrib import admin

from vafa.ledger.admin import MEMBER_SEARCH, ReadOnlyAdmin, ReadOnlyInline
from vafa.purchases.models import (
    ActivityEvent,
    IssuedReward,
    Purchase,
    PurchaseLine,
    Return,
    RewardEffect,
    Visit,
)


class PurchaseLineInline(ReadOnlyInline):
    model = PurchaseLine
    fields = ("position", "sku", "name", "category", "quantity", "unit_price", "amount", "returned_quantity")
    readonly_fields = fields
    show_change_link = False
    ordering = ("position",)


class RewardEffectInline(ReadOnlyInline):
    model = RewardEffect
    fields = ("kind", "rule_id", "currency", "amount", "reversed_amount", "reason")
    readonly_fields = fields


class ReturnInline(ReadOnlyInline):
    model = Return
    fields = ("created_at", "amount", "cancellation", "reason")
    readonly_fields = fields


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = ("receipt", "branch", "member", "occurred_at", "total", "discount", "points_redeemed",
                    "wallet_redeemed", "payable", "status", "channel")
    list_filter = ("status", "channel", "branch", "business")
    search_fields = ("receipt", *MEMBER_SEARCH)
    list_select_related = ("member", "branch")
    raw_id_fields = ("member",)
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    exclude = ("fingerprint",)
    inlines = [PurchaseLineInline, RewardEffectInline, ReturnInline]


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdmin):
    list_display = ("id", "purchase", "receipt", "amount", "cancellation", "reason", "created_at")
    list_filter = ("cancellation", "business")
    search_fields = ("purchase__receipt", "purchase__member__mobile", "purchase__member__code")
    list_select_related = ("purchase",)
    raw_id_fields = ("purchase",)
    ordering = ("-created_at", "-id")

    @admin.display(description="receipt", ordering="purchase__receipt")
    def receipt(self, record):
        return record.purchase.receipt


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "member", "branch", "note")
    list_filter = ("branch", "business")
    search_fields = ("note", *MEMBER_SEARCH)
    list_select_related = ("member", "branch")
    raw_id_fields = ("member",)
    ordering = ("-occurred_at", "-id")


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "member", "name", "data")
    list_filter = ("name", "business")
    search_fields = ("name", *MEMBER_SEARCH)
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    ordering = ("-occurred_at", "-id")


@admin.register(RewardEffect)
class RewardEffectAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "member", "kind", "rule_id", "currency", "amount", "reversed_amount", "reason")
    list_filter = ("kind", "currency", "rule_id", "business")
    search_fields = ("rule_id", "purchase__receipt", *MEMBER_SEARCH)
    list_select_related = ("member",)
    raw_id_fields = ("member", "purchase", "visit", "event")
    ordering = ("-occurred_at", "-id")


@admin.register(IssuedReward)
class IssuedRewardAdmin(ReadOnlyAdmin):
    list_display = ("issued_at", "member", "name", "reward_code", "status", "rule_id", "revoked_at")
    list_filter = ("status", "reward_code", "rule_id", "business")
    search_fields = ("reward_code", "key", *MEMBER_SEARCH)
    list_select_related = ("member",)
    raw_id_fields = ("member", "purchase", "visit")
    ordering = ("-issued_at", "-id")
