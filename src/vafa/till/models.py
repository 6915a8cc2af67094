"""A purchase registered at a till while offline that the server refused when it was sent: kept for the
manager, never dropped (the till shows it in its sync problems list; the back office's list settles it)."""

from django.db import models

from vafa.core.models import ReasonFields
from vafa.core.reasons import render


class SyncProblem(ReasonFields):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"  # settled with the customer or entered again in the back office
        DISMISSED = "dismissed", "Dismissed"  # nothing to settle (a test, a duplicate already entered)

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    idempotency_key = models.CharField(max_length=128)
    payload = models.JSONField()  # what the till sent: member, receipt, amount, when
    code = models.CharField(max_length=64)  # the refusal's message code (member_blocked …); the reason fields word it
    actor_label = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True, default="")  # how the manager settled it
    settled_by = models.CharField(max_length=200, blank=True, default="")
    settled_at = models.DateTimeField(null=True, blank=True)
    # The manager's last "send again" (services.send_again): who, when, and how it went as a reason (till.sent_again
    # or till.refused_again with the new refusal), worded when read; the refusal above stays what the till was told.
    sent_again_by = models.CharField(max_length=200, blank=True, default="")
    sent_again_at = models.DateTimeField(null=True, blank=True)
    sent_again_code = models.CharField(max_length=64, blank=True, default="")
    sent_again_params = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "idempotency_key"],
                                               name="till_sync_problem_key_per_business")]
        indexes = [models.Index(fields=["business", "branch", "-created_at"], name="till_sync_problem_branch"),
                   models.Index(fields=["business", "member"], name="till_sync_problem_member"),
                   models.Index(fields=["business", "status", "-created_at"], name="till_sync_problem_status")]

    def sent_again_in(self, language: str | None = None, calendar: str | None = None) -> str:
        """How the last send again went, in `language` and `calendar`; empty when never sent again."""
        return render(self.sent_again_code, self.sent_again_params, language, calendar) if self.sent_again_code else ""

    def __str__(self) -> str:
        return f"{self.payload.get('receipt')}: {self.code}"
