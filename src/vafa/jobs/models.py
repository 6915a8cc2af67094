from django.db import models


class JobRun(models.Model):
    """When each periodic job last ran; `vafa jobs run-due` runs those whose interval has passed."""

    name = models.CharField(max_length=100, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True, default="")
    last_error = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.name
