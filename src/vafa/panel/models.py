from django.db import models


class ProgramBudget(models.Model):
    """The owner's monthly budget for the program (set in the setup wizard): what rewards may cost a month at
    the loyalty table, watched on the dashboard."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="program_budget")
    monthly_amount = models.BigIntegerField()  # minor units of the business's currency
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.business_id}: {self.monthly_amount}"
