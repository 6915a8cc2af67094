"""Club types beyond the open points club: paid plans (VIP) members subscribe to, causes members donate
points to, and the partner network. The closed club's admission lives on Member (status and admitted_at)."""

from django.db import models
from django.utils import timezone

from vafa.core.models import ActorFields


class Subscription(ActorFields):
    """One paid period of a plan. A renewal is a new row starting where the previous one ends."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    class Payment(models.TextChoices):
        WALLET = "wallet", "Wallet credit"
        EXTERNAL = "external", "Paid at the till or online"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.CharField(max_length=32)
    period = models.CharField(max_length=8)  # monthly, yearly
    price = models.BigIntegerField()
    payment = models.CharField(max_length=8, choices=Payment.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    auto_renew = models.BooleanField(default=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    entry = models.ForeignKey("ledger.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["business", "member", "ends_at"], name="subscription_member_idx"),
            models.Index(fields=["business", "status", "ends_at"], name="subscription_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.starts_at:%Y-%m-%d}–{self.ends_at:%Y-%m-%d}"


class Cause(models.Model):
    """A cause the business supports (a charity, a tree-planting fund): members donate points to it."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    goal = models.BigIntegerField(null=True, blank=True)  # points; shown as progress, never a limit
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "code"], name="cause_code_per_business")]

    def __str__(self) -> str:
        return self.name


class Donation(ActorFields):
    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    cause = models.ForeignKey(Cause, on_delete=models.PROTECT, related_name="donations")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="donations")
    points = models.BigIntegerField()
    # One donation per entry; the constraint below (not a OneToOneField) keeps it unique within the business.
    entry = models.ForeignKey("ledger.Entry", on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "entry"], name="donation_once_per_entry")]
        indexes = [models.Index(fields=["business", "cause", "created_at"], name="donation_cause_idx")]

    def __str__(self) -> str:
        return f"{self.points} → {self.cause_id}"


class Partnership(models.Model):
    """One business's consent to a partner network with another (F36). The network is in force only while
    both sides consent; then each may ask whether a customer is the other's member and at which tier. Balances
    are never shared."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="partnerships")
    partner = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="+")
    consented_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "partner"], name="partnership_per_pair")]

    def __str__(self) -> str:
        return f"{self.business_id} → {self.partner_id}"
