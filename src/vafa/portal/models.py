"""Purchases members register themselves (F10): receipts the store reported without a member, and members'
claims on receipts, accepted at once when they match one, otherwise reviewed in the back office."""

from django.db import models

from vafa.core.models import ActorFields, ReasonFields


class ReportedReceipt(models.Model):
    """A receipt the store's point of sale reported with no member at the till; a member may claim it."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.PROTECT, db_index=False)  # indexed below
    receipt = models.CharField(max_length=64)
    total = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT, db_index=False,
                                 related_name="+")  # set when a member's claim turned it into their purchase

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "branch", "receipt"], name="reported_receipt_once")]
        indexes = [models.Index(fields=["business", "purchase"], name="reported_receipt_purchase_idx")]

    def __str__(self) -> str:
        return self.receipt


class PurchaseClaim(ActorFields, ReasonFields):
    """A member's claim on a receipt; a rejection's reason (a note the manager typed) is what the member reads."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"  # matched a reported receipt: earned at once
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="purchase_claims",
                               db_index=False)  # indexed below, with business_id first
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.PROTECT, db_index=False)  # indexed below
    receipt = models.CharField(max_length=64)
    amount = models.BigIntegerField()
    purchased_on = models.DateField()
    photo = models.BinaryField(null=True, blank=True, editable=False)  # at most MAX_PHOTO_BYTES
    photo_type = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    flags = models.JSONField(default=list, blank=True)  # why it waits for review: message codes
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT, db_index=False,
                                 related_name="+")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["business", "status", "created_at"], name="claim_status_idx"),
                   models.Index(fields=["business", "member", "created_at"], name="claim_member_idx"),
                   models.Index(fields=["business", "branch", "receipt"], name="claim_receipt_idx"),
                   models.Index(fields=["business", "purchase"], name="claim_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.receipt} ({self.status})"
