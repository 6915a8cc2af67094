from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class ProgramBudget(models.Model):
    """The owner's monthly budget for the program (set in the setup wizard): what rewards may cost a month at
    the loyalty table, watched on the dashboard."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="program_budget")
    monthly_amount = models.BigIntegerField()  # minor units of the business's currency
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.monthly_amount}"


class BusinessLogo(models.Model):
    """The business's logo for its printed cards and the back office, kept in the database (a small image, so
    backups and every server see it without shared file storage)."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="logo")
    content_type = models.CharField(max_length=16)  # image/png, image/jpeg or image/webp
    data = models.BinaryField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.content_type}"


class ActiveWindow(models.Model):
    """How recent a purchase makes a member "active" on the dashboard and in the members filter (seed 002: a
    purchase in the last 365 days, the default when the business has not chosen)."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="active_window")
    days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.days} days"


class DashboardFigures(models.Model):
    """The dashboard's business-wide aggregates (member counts, liability, points flow, months, tier mix, sources,
    branches, the program's effect, this month's cost), kept by the `dashboard_figures` job and read by the page
    in one query: at a million members they are seconds of scanning, and the page must answer in 200 ms."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="dashboard_figures")
    computed_at = models.DateTimeField()
    figures = models.JSONField(encoder=DjangoJSONEncoder)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.computed_at:%Y-%m-%d %H:%M}"
