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
