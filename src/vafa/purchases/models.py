from django.db import models

from vafa.core.models import ActorFields, ReasonFields


class Purchase(ActorFields):
    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        PARTIALLY_RETURNED = "partially_returned", "Partially returned"
        RETURNED = "returned", "Returned"
        CANCELLED = "cancelled", "Cancelled"

    COUNTED = (Status.COMPLETED, Status.PARTIALLY_RETURNED)  # counted for stamps, sequences, tiers

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="purchases", db_index=False)
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.PROTECT, db_index=False)
    receipt = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=32, blank=True, default="")
    total = models.BigIntegerField()  # what the basket came to before Vafa's discounts
    discount = models.BigIntegerField(default=0)  # tier and code discounts
    points_redeemed = models.BigIntegerField(default=0)
    points_value = models.BigIntegerField(default=0)  # money the redeemed points paid
    wallet_redeemed = models.BigIntegerField(default=0)
    gift_credit_redeemed = models.BigIntegerField(default=0)
    gift_card_redeemed = models.BigIntegerField(default=0)
    other_amount = models.BigIntegerField(default=0)  # the unitemised part of the total (delivery, service …)
    earning_base = models.BigIntegerField(default=0)
    payable = models.BigIntegerField(default=0)  # left to pay by other means
    returned_amount = models.BigIntegerField(default=0)  # part of total returned so far
    spend = models.BigIntegerField(default=0)  # (total − discount) less what was returned: the tier basis
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    program_version = models.PositiveIntegerField()
    units = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64)
    result = models.JSONField(default=dict)  # the answer given when it was posted, for replays
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "branch", "receipt"], name="receipt_per_branch"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="purchase_total_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["business", "member", "occurred_at"], name="purchase_member_time_idx"),
            # a member's history, newest first by id (the API's cursor pages): without it PostgreSQL walks the
            # primary key backwards through every business's purchases until it finds the member's
            models.Index(fields=["business", "member", "id"], name="purchase_member_id_idx"),
            models.Index(fields=["business", "occurred_at"], name="purchase_time_idx"),
        ]


class PurchaseLine(models.Model):
    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    sku = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=200, blank=True, default="")
    category = models.CharField(max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField()
    returned_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["business", "purchase"], name="line_purchase_idx"),
                   models.Index(fields=["business", "category"], name="line_category_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku or self.name}"


class Visit(ActorFields):
    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="visits")
    branch = models.ForeignKey("tenancy.Branch", null=True, blank=True, on_delete=models.PROTECT)
    occurred_at = models.DateTimeField()
    units = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    program_version = models.PositiveIntegerField()
    result = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["business", "member", "occurred_at"], name="visit_member_time_idx")]


class ActivityEvent(ActorFields):
    """A custom activity that rules can reward: survey_completed, social_share, app_install …"""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="activity_events", db_index=False)
    name = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)
    program_version = models.PositiveIntegerField()
    result = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["business", "member", "name"], name="event_member_name_idx")]


class RewardEffect(ReasonFields):
    """What a rule gave on one activity, and how much of it a return has reversed since; the basis of caps per
    period and of proportional reversal."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="reward_effects", db_index=False)
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.CASCADE, related_name="effects")
    visit = models.ForeignKey(Visit, null=True, blank=True, on_delete=models.CASCADE)
    event = models.ForeignKey(ActivityEvent, null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=16)  # earn, cashback, spend, discount
    rule_id = models.CharField(max_length=64)
    currency = models.CharField(max_length=16, blank=True, default="")
    amount = models.BigIntegerField()
    reversed_amount = models.BigIntegerField(default=0)
    occurred_at = models.DateTimeField()
    program_version = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["business", "member", "rule_id", "occurred_at"], name="effect_rule_period_idx"),
                   models.Index(fields=["business", "purchase"], name="effect_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.rule_id})"


class IssuedReward(ReasonFields):
    """A reward a stamp card or sequence issued (a free meal, free shipping …): something the member holds until
    they use it (on a purchase or handed over), it expires, or a reversal that un-earns it revokes it. What it
    gives is copied from the program when issued, so a later program version does not change a reward held."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"  # available, unless past expires_at (then shown as expired)
        USED = "used", "Used"
        REVOKED = "revoked", "Revoked"

    class Gives(models.TextChoices):
        THING = "thing", "A thing handed over"
        FREE_ITEM = "free_item", "A free item"
        AMOUNT_OFF = "amount_off", "An amount off"
        PERCENT_OFF = "percent_off", "A percent off"
        FREE_SHIPPING = "free_shipping", "Free shipping"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="issued_rewards", db_index=False)
    rule_id = models.CharField(max_length=64)
    key = models.CharField(max_length=120)
    reward_code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED)
    purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.SET_NULL)
    visit = models.ForeignKey(Visit, null=True, blank=True, on_delete=models.SET_NULL)
    issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    gives = models.CharField(max_length=16, choices=Gives.choices, default=Gives.THING)
    terms = models.JSONField(default=dict, blank=True)  # sku, quantity, amount, percent (text), max_discount
    branches = models.JSONField(default=list, blank=True)  # branch codes; empty: every branch
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_purchase = models.ForeignKey(Purchase, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="rewards_used", db_index=False)  # indexed with business
    used_branch = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "member", "key"],
                                               condition=~models.Q(status="revoked"), name="one_live_reward_per_key")]
        indexes = [models.Index(fields=["business", "member", "status"], name="reward_member_status_idx"),
                   models.Index(fields=["business", "used_purchase"], name="reward_used_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.reward_code} ({self.status})"


class Return(ActorFields, ReasonFields):
    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="returns")
    amount = models.BigIntegerField()  # part of the purchase total returned
    lines = models.JSONField(default=list, blank=True)
    cancellation = models.BooleanField(default=False)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["business", "purchase"], name="return_purchase_idx")]


class ActivityCounter(models.Model):
    """A member's activity summed per name and UTC day, kept by the writes (purchases.counters): the purchase
    and visit counts, the spend, the points earned and each rule's effects, so that the program's windows (the
    rolling tier metric, the cap periods) are a bounded sum at any length of history. `day` 0001-01-01 holds
    the all-time total of a name."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=80)  # purchases, visits, spend, earned_points, rule:<rule id>
    day = models.DateField()
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "member", "name", "day"],
                                               name="counter_per_member_name_day")]

    def __str__(self) -> str:
        return f"{self.name} {self.day}: {self.value}"
