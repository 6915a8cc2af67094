from django.contrib import admin

from vafa.jobs.models import JobRun
from vafa.ledger.admin import ReadOnlyAdmin


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """When each periodic job last ran (`vafa jobs run-due`, `vafa worker`)."""

    list_display = ("name", "last_started_at", "last_finished_at", "last_result", "failed")
    search_fields = ("name",)
    ordering = ("name",)

    @admin.display(boolean=True, description="failed")
    def failed(self, run):
        return bool(run.last_error)
