"""Discount codes, kept apart as in Saleor: a definition (what it gives, on what conditions), its codes (a
shared code or a batch of unique ones), and the redemptions (one per code used on a purchase). A reservation
holds one use of a code for an online checkout for a short time."""

from django.db import models

from vafa.core.models import ReasonFields


class VoucherDefinition(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", "Percent"
        FIXED = "fixed", "Fixed amount"
        FREE_SHIPPING = "free_shipping", "Free shipping"
        FREE_ITEM = "free_item", "Free item"
        BUY_N_GET_M = "buy_n_get_m", "Buy N get M"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # what it gives
    percent = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)  # 12.5 → 12.5 %
    max_discount = models.BigIntegerField(null=True, blank=True)
    amount = models.BigIntegerField(default=0)
    free_sku = models.CharField(max_length=64, blank=True, default="")
    free_quantity = models.PositiveIntegerField(default=1)
    buy_n = models.PositiveIntegerField(default=0)
    get_m = models.PositiveIntegerField(default=0)
    order_wide = models.BooleanField(default=False)
    # conditions
    categories = models.JSONField(default=list, blank=True)
    skus = models.JSONField(default=list, blank=True)
    branches = models.JSONField(default=list, blank=True)  # branch codes; empty: every branch
    tiers = models.JSONField(default=list, blank=True)  # tier codes; empty: every member and guests
    min_amount = models.BigIntegerField(default=0)
    min_quantity = models.PositiveIntegerField(default=0)
    starts_on = models.DateField(null=True, blank=True)  # inclusive, in the business's timezone
    ends_on = models.DateField(null=True, blank=True)  # inclusive
    max_uses_total = models.PositiveIntegerField(null=True, blank=True)  # over all its codes; None: unlimited
    max_uses_per_member = models.PositiveIntegerField(null=True, blank=True)
    used_count = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["business", "created_at"], name="voucherdef_created_idx")]

    def __str__(self) -> str:
        return self.name


class VoucherCode(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    definition = models.ForeignKey(VoucherDefinition, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=40)  # uppercase
    max_uses = models.PositiveIntegerField(null=True, blank=True)  # None: a shared code without a limit
    used_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "code"], name="vouchercode_per_business")]
        indexes = [models.Index(fields=["business", "definition"], name="vouchercode_definition_idx")]

    def __str__(self) -> str:
        return self.code


class Redemption(ReasonFields):
    class Status(models.TextChoices):
        REDEEMED = "redeemed", "Redeemed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    definition = models.ForeignKey(VoucherDefinition, on_delete=models.PROTECT, related_name="redemptions")
    code = models.ForeignKey(VoucherCode, on_delete=models.PROTECT, related_name="redemptions")
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT)
    purchase_id = models.BigIntegerField()  # purchases.Purchase, kept loose so vouchers do not depend on it
    amount = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REDEEMED)
    created_at = models.DateTimeField()
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["business", "purchase_id"], name="redemption_purchase_idx"),
            models.Index(fields=["business", "definition", "member", "status"], name="redemption_member_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code_id} on purchase {self.purchase_id} ({self.status})"


class Reservation(models.Model):
    """One use of a code held for an online checkout until expires_at; used up when the purchase redeems it."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    code = models.ForeignKey(VoucherCode, on_delete=models.CASCADE, related_name="reservations")
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.CASCADE)
    token = models.CharField(max_length=43)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "token"], name="reservation_token_per_business")]
        indexes = [models.Index(fields=["business", "code", "expires_at"], name="reservation_code_idx")]

    def __str__(self) -> str:
        return f"{self.code_id} until {self.expires_at:%Y-%m-%d %H:%M}"
