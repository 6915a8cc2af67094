from django import forms
from django.contrib import admin

from vafa.core.actor import Actor
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput
from vafa.ledger.admin import MEMBER_SEARCH, ReadOnlyAdmin, ReadOnlyInline
from vafa.members.models import Card, Member, TierChange
from vafa.members.services import PROFILE_FIELDS, MemberUpdate, update_member


class MemberForm(forms.ModelForm):
    """Profile edits are checked by the same rules as the service's (no birth date in the future …)."""

    class Meta:
        model = Member
        fields = list(PROFILE_FIELDS)

    def clean(self):
        cleaned = super().clean()
        changed = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        try:  # checked once: save_model runs this very change
            self.change = MemberUpdate.check(self.instance.business, self.instance.pk, **changed)
        except InvalidInput as exc:
            for error in exc.errors:
                self.add_error(error["field"] if error["field"] in self.fields else None, error["message"])
        return cleaned


class CardInline(ReadOnlyInline):
    model = Card
    fk_name = "member"
    fields = ("number", "kind", "status", "issued_at", "blocked_at")
    readonly_fields = fields


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    fields = ("changed_at", "from_tier", "to_tier", "metric", "reason")
    readonly_fields = fields
    ordering = ("-changed_at",)


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    form = MemberForm
    list_display = ("code", "full_name", "mobile", "tier", "status", "join_source", "joined_at", "business")
    list_filter = ("tier", "status", "gender", "join_source", "business")
    search_fields = ("mobile", "code", "first_name", "last_name", "email")
    list_select_related = ("business",)
    show_full_result_count = False
    ordering = ("-joined_at",)
    readonly_fields = ("business", "mobile", "code", "tier", "tier_since", "joined_at", "updated_at")
    fieldsets = [
        (None, {"fields": ("business", "code", "mobile", "status", "tier", "tier_since", "joined_at")}),
        ("Profile", {"fields": ("first_name", "last_name", "email", "gender", "birth_date", "anniversary", "job",
                                "education", "interests", "join_source")}),
        (None, {"fields": ("updated_at",)}),
    ]
    inlines = [CardInline, TierChangeInline]

    @admin.display(description="name", ordering="last_name")
    def full_name(self, member):
        return member.full_name

    def get_search_results(self, request, queryset, search_term):
        """Mobiles are stored as +98912…; staff type 0912… (in Persian digits, too)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        digits = to_ascii_digits(search_term.strip()).replace(" ", "")
        if digits.isdigit() and digits.startswith("0") and len(digits) > 3:
            found = found | queryset.filter(mobile__startswith="+98" + digits[1:])
        return found, may_have_duplicates

    def save_model(self, request, obj, form, change):
        """Through the service, so the change reaches the outbox like any other profile edit."""
        user = request.user
        actor = Actor("operator", str(user.pk), user.get_username(), request.META.get("REMOTE_ADDR"))
        update_member(obj.business, form.change, actor=actor)

    def has_add_permission(self, request):
        return False  # sign-up goes through the service: a member code, the first tier, the outbox event

    def has_delete_permission(self, request, obj=None):
        return False  # members own ledger entries and purchases; block them instead


@admin.register(Card)
class CardAdmin(ReadOnlyAdmin):
    list_display = ("number", "member", "kind", "status", "issued_at", "business")
    list_filter = ("status", "kind", "business")
    search_fields = ("number", *MEMBER_SEARCH)
    list_select_related = ("member", "business")
    raw_id_fields = ("member", "replaced_by")


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "member", "from_tier", "to_tier", "metric", "reason")
    list_filter = ("to_tier", "reason", "business")
    search_fields = MEMBER_SEARCH
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    ordering = ("-changed_at",)
