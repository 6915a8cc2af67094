"""The ledger in the admin: to look at, never to edit. Entries are append-only and only the services write
them; a correction is a new entry (`vafa ledger`), so every ledger page here is read-only."""

from django.contrib import admin

from vafa.ledger.models import Account, Entry, Lot, LotMovement


class NoWrites:
    """For models the services own: the admin may list and show rows, but not add, change or delete one."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    actions = None
    show_full_result_count = False  # one COUNT(*) per page is enough on large tables


class ReadOnlyInline(NoWrites, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True


MEMBER_SEARCH = ("member__mobile", "member__code", "member__last_name")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "member", "currency", "kind", "balance", "business")
    list_filter = ("currency", "kind", "business")
    search_fields = ("code", *MEMBER_SEARCH)
    list_select_related = ("member", "business")
    raw_id_fields = ("member",)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "member", "kind", "currency", "amount", "debit", "credit", "receipt",
                    "rule_id", "reason")
    list_filter = ("kind", "currency", "business")
    search_fields = ("purchase__receipt", "rule_id", "source", *MEMBER_SEARCH)
    list_select_related = ("member", "debit", "credit", "purchase", "business")
    raw_id_fields = ("member", "purchase")
    ordering = ("-created_at", "-id")

    @admin.display(description="receipt", ordering="purchase__receipt")
    def receipt(self, entry):
        return entry.purchase.receipt if entry.purchase_id else ""


class LotMovementInline(ReadOnlyInline):
    model = LotMovement
    fk_name = "lot"
    fields = ("entry", "amount")
    readonly_fields = fields


@admin.register(Lot)
class LotAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "currency", "state", "amount", "remaining", "created_at", "available_at",
                    "expires_at")
    list_filter = ("state", "currency", "business")
    search_fields = ("purchase__receipt", *MEMBER_SEARCH)
    list_select_related = ("member",)
    raw_id_fields = ("member", "purchase", "origin")
    ordering = ("-created_at", "-id")
    inlines = [LotMovementInline]


@admin.register(LotMovement)
class LotMovementAdmin(ReadOnlyAdmin):
    list_display = ("id", "entry", "lot", "amount")
    search_fields = ("lot__member__mobile", "lot__member__code")
    raw_id_fields = ("entry", "lot")
    ordering = ("-id",)
