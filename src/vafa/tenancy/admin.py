from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin

from vafa.tenancy.models import Branch, Business
from vafa.tenancy.services import touch


class BusinessForm(forms.ModelForm):
    class Meta:
        model = Business
        fields = ["name", "timezone", "language", "calendar", "phone_region"]

    def clean_timezone(self):
        name = self.cleaned_data["timezone"]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError("unknown_timezone") from None
        return name


class BranchInline(admin.TabularInline):
    model = Branch
    extra = 0
    fields = ("code", "name", "address", "active")
    can_delete = False  # purchases keep their branch; a branch that closes is set inactive


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    form = BusinessForm
    list_display = ("name", "slug", "currency", "language", "calendar", "timezone", "created_at")
    list_filter = ("currency", "language", "calendar")
    search_fields = ("name", "slug")
    # The slug names the business in URLs and commands, and every amount is in its currency: both stay.
    readonly_fields = ("slug", "currency", "created_at")
    inlines = [BranchInline]

    def has_add_permission(self, request):
        return False  # `vafa business create` also activates the starter program

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        touch(form.instance.pk)  # branches edited inline: every process's cached copy is now old (program.cache)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "business", "active")
    list_filter = ("active", "business")
    search_fields = ("name", "code", "business__name")
    list_select_related = ("business",)

    def get_readonly_fields(self, request, obj=None):
        return ("business", "code") if obj else ()  # the code is what receipts and API calls name

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        touch(obj.business_id)  # every process's cached copy of the branches is now old (program.cache)

    def has_delete_permission(self, request, obj=None):
        return False
