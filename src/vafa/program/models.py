from django.db import models

from vafa.core.models import ActorFields


class ProgramVersion(ActorFields):
    """One version of a business's program document. Versions are immutable; exactly one is active, and
    every purchase records the version it was evaluated with."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="program_versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "version"], name="program_version_per_business"),
            models.UniqueConstraint(fields=["business"], condition=models.Q(active=True),
                                    name="one_active_program_per_business"),
        ]
