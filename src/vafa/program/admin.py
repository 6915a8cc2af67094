import json

from django.contrib import admin
from django.utils.html import format_html

from vafa.ledger.admin import ReadOnlyAdmin
from vafa.program.models import ProgramVersion


@admin.register(ProgramVersion)
class ProgramVersionAdmin(ReadOnlyAdmin):
    """Versions are immutable and activated only through validation (`vafa program activate`)."""

    list_display = ("business", "version", "active", "created_at", "actor_label")
    list_filter = ("active", "business")
    search_fields = ("business__name", "business__slug")
    list_select_related = ("business",)
    ordering = ("business", "-version")
    exclude = ("document",)
    readonly_fields = ("document_json",)

    @admin.display(description="document")
    def document_json(self, version):
        text = json.dumps(version.document, ensure_ascii=False, indent=2)
        return format_html('<pre dir="ltr" style="white-space: pre-wrap">{}</pre>', text)
