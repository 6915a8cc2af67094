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


class LedgerDay(models.Model):
    """The points accounting's flows into and out of what the members hold, per business, day (the business's
    time zone) and currency, summed from every ledger entry up to ReportRollup.entry_mark (panel.rollups).
    Outflows are positive; `other` is signed (into the members +)."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    day = models.DateField()
    currency = models.CharField(max_length=16)
    earned = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)
    spent = models.BigIntegerField(default=0)
    given_back = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    other = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "day", "currency"], name="ledger_day_per_business")]

    def __str__(self) -> str:
        return f"{self.business_id}: {self.day} {self.currency}"


class BranchDay(models.Model):
    """The branch report's counted purchases per business, branch and closed day (the business's time zone),
    recomputed whole by the report_rollups job (panel.rollups). `visits`: distinct members that day."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.CASCADE, db_index=False)
    day = models.DateField()
    purchases = models.BigIntegerField(default=0)
    visits = models.BigIntegerField(default=0)
    revenue = models.BigIntegerField(default=0)  # spend: after discounts and returns
    discount = models.BigIntegerField(default=0)
    points_redeemed = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "day", "branch"], name="branch_day_per_business")]

    def __str__(self) -> str:
        return f"{self.business_id}: {self.day} branch {self.branch_id}"


class ReportRollup(models.Model):
    """How far a business's LedgerDay and BranchDay rows reach: the last entry, purchase and return id taken in,
    the last closed day BranchDay holds, and the time zone their days are in (another one starts them over)."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="report_rollup")
    timezone = models.CharField(max_length=64)
    entry_mark = models.BigIntegerField(default=0)
    purchase_mark = models.BigIntegerField(default=0)
    return_mark = models.BigIntegerField(default=0)
    purchases_through = models.DateField(null=True, blank=True)
    rolled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.business_id}: through {self.purchases_through}"
