from django.db import models

from vafa.core.models import ActorFields


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANDIDATE = "candidate", "Candidate"  # a closed club's customer below the entry threshold
        BLOCKED = "blocked", "Blocked"

    class Gender(models.TextChoices):
        UNKNOWN = "", "—"
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="members", db_index=False)
    mobile = models.CharField(max_length=20)  # E.164
    code = models.CharField(max_length=12)  # short member code, unique in the business
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    birth_date = models.DateField(null=True, blank=True)
    anniversary = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=8, choices=Gender.choices, blank=True, default="")
    job = models.CharField(max_length=100, blank=True, default="")
    education = models.CharField(max_length=100, blank=True, default="")
    interests = models.JSONField(default=list, blank=True)
    join_source = models.CharField(max_length=100, blank=True, default="")
    # False for a sign-up on the public join page until its mobile answers a one-time code: until then no
    # sign-up reward is paid (to the member or its referrer), so random mobiles cannot mint referral credit.
    mobile_verified = models.BooleanField(default=True)
    referred_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    admitted_at = models.DateTimeField(null=True, blank=True)  # a closed club: when the threshold was reached
    tier = models.CharField(max_length=32, blank=True, default="")
    tier_since = models.DateTimeField(null=True, blank=True)
    # The paid plan held now (clubs.Subscription keeps the history); kept here so a purchase reads no more rows.
    plan = models.CharField(max_length=32, blank=True, default="")
    plan_expires_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "mobile"], name="member_mobile_per_business"),
            models.UniqueConstraint(fields=["business", "code"], name="member_code_per_business"),
        ]
        indexes = [
            models.Index(fields=["business", "last_name", "first_name"], name="member_name_idx"),
            # the back office at a million members: search by first name, the newest members, and the tier and
            # source filters' choices (read by skipping through the index, panel.selectors.distinct_values)
            models.Index(fields=["business", "first_name"], name="member_first_name_idx"),
            models.Index(fields=["business", "joined_at"], name="member_joined_idx"),
            models.Index(fields=["business", "tier"], name="member_tier_idx"),
            models.Index(fields=["business", "join_source"], name="member_source_idx"),
            # a member's referrals; partial, as most members were referred by no one: with every NULL in it the
            # planner's statistics call a referrer's lookup a million rows and it scans the table instead
            models.Index(fields=["business", "referred_by"], name="member_referrer_idx",
                         condition=models.Q(referred_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.mobile} ({self.code})"

    def plan_at(self, at) -> str | None:
        """The paid plan's code when one is held at `at`."""
        if self.plan and self.plan_expires_at is not None and at < self.plan_expires_at:
            return self.plan
        return None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Card(ActorFields):
    class Kind(models.TextChoices):
        MAGNETIC = "magnetic", "Magnetic"
        QR = "qr", "QR code"
        BARCODE = "barcode", "Barcode"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LOST = "lost", "Lost"
        REPLACED = "replaced", "Replaced"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cards")
    number = models.CharField(max_length=19)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.QR)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField()
    blocked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "number"], name="card_number_per_business")]
        indexes = [models.Index(fields=["business", "member"], name="card_member_idx")]


class TierChange(ActorFields):
    """A member's tier history: every upgrade at purchase time and every change at a review."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=32, blank=True, default="")
    to_tier = models.CharField(max_length=32)
    metric = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=300)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["business", "member", "changed_at"], name="tierchange_member_idx")]


class Commission(models.Model):
    """What an operator earns for a member they signed up (F35), reported per operator."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    operator_id = models.CharField(max_length=64)  # the Actor id of the operator who signed the member up
    operator_label = models.CharField(max_length=150)
    # One commission per member; the constraint below (not a OneToOneField) keeps it unique within the business.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="commissions", db_index=False)
    amount = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "member"], name="commission_once_per_member")]
        indexes = [models.Index(fields=["business", "operator_id"], name="commission_operator_idx")]

    def __str__(self) -> str:
        return f"{self.operator_label}: {self.amount}"
