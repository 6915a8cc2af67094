"""The ledger: accounts, immutable entries (each a balanced debit/credit pair), and lots.

A member's balance in a currency is the sum of the entries on their account (credits minus debits). The
account row caches it and is updated in the same transaction as the entry; `vafa ledger check` proves the
cache equals the sum and the lots agree with the balance.
"""

from django.db import models

from vafa.core.models import ActorFields, ReasonFields

CURRENCY_CHOICES = [(c, c) for c in ("points", "coins", "wallet", "gift_credit")]


class Account(models.Model):
    class Kind(models.TextChoices):
        AVAILABLE = "available", "Member: available"
        PENDING = "pending", "Member: pending (return window)"
        ISSUED = "issued", "Business: rewards issued (expense)"
        REDEEMED = "redeemed", "Business: rewards redeemed"
        EXPIRED = "expired", "Business: expired (breakage)"
        ADJUSTMENT = "adjustment", "Business: manual adjustments"
        CONVERSION = "conversion", "Business: conversions between currencies"
        DONATED = "donated", "Business: donated to causes"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.CASCADE, db_index=False)
    currency = models.CharField(max_length=16, choices=CURRENCY_CHOICES)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    code = models.CharField(max_length=80)  # "m:<member>:<currency>:<kind>" or "b:<currency>:<kind>"
    balance = models.BigIntegerField(default=0)  # credits − debits, cached

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "code"], name="account_code_per_business")]
        indexes = [models.Index(fields=["business", "member", "currency"], name="account_member_idx")]

    def __str__(self) -> str:
        return self.code


class Entry(ActorFields, ReasonFields):
    class Kind(models.TextChoices):
        EARN = "earn", "Earn"
        SPEND = "spend", "Spend"
        EXPIRE = "expire", "Expire"
        REVERSE = "reverse", "Reverse"
        ADJUST = "adjust", "Adjust"
        CONVERT = "convert", "Convert"
        TRANSFER = "transfer", "Transfer"
        RELEASE = "release", "Release (pending → available)"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="entries", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=16, choices=CURRENCY_CHOICES)
    amount = models.BigIntegerField()  # always > 0; direction is given by debit and credit
    debit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="debits", db_index=False)
    credit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credits", db_index=False)
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT, db_index=False)
    source = models.CharField(max_length=64, blank=True, default="")  # visit:12, event:9, return:3, job:expire
    rule_id = models.CharField(max_length=64, blank=True, default="")
    program_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="entry_amount_positive")]
        indexes = [
            models.Index(fields=["business", "member", "-created_at"], name="entry_member_time_idx"),
            models.Index(fields=["business", "purchase"], name="entry_purchase_idx"),
            models.Index(fields=["business", "debit"], name="entry_debit_idx"),
            models.Index(fields=["business", "credit"], name="entry_credit_idx"),
        ]
        verbose_name_plural = "entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.debit_id}→{self.credit_id})"


class Lot(models.Model):
    """An earned amount with its own expiry (and, for gift credit, restrictions). Spending consumes the lots
    that expire first, then the oldest."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        OPEN = "open", "Open"
        CLOSED = "closed", "Used up, expired or reversed"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="lots", db_index=False)
    currency = models.CharField(max_length=16, choices=CURRENCY_CHOICES)
    state = models.CharField(max_length=8, choices=State.choices)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    created_at = models.DateTimeField()
    available_at = models.DateTimeField(null=True, blank=True)  # end of the pending window
    expires_at = models.DateTimeField(null=True, blank=True)
    restrictions = models.JSONField(default=dict, blank=True)  # {"categories": [...], "branches": [...]}
    reminded_at = models.DateTimeField(null=True, blank=True)  # when the member was warned of its expiry
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT)
    origin = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="lots_created")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(remaining__gte=0), name="lot_remaining_nonnegative")]
        indexes = [
            models.Index(fields=["business", "member", "currency", "state"], name="lot_member_state_idx"),
            models.Index(fields=["business", "state", "expires_at"], name="lot_expiry_idx"),
            models.Index(fields=["business", "state", "available_at"], name="lot_release_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} lot {self.pk}: {self.remaining}/{self.amount}"


class LotMovement(models.Model):
    """Which lots an entry drew from or added to; a return gives back to the lots a spend took."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="movements", db_index=False)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="movements")
    amount = models.BigIntegerField()  # + into the lot, − out of it

    class Meta:
        indexes = [models.Index(fields=["business", "entry"], name="lotmove_entry_idx")]

    def __str__(self) -> str:
        return f"lot {self.lot_id} {self.amount:+d}"


class GiftCard(models.Model):
    """A gift card (کارت هدیه, F32): a code and a balance, spendable partially by whoever holds the code."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    code = models.CharField(max_length=32)
    initial_amount = models.BigIntegerField()
    balance = models.BigIntegerField()  # cached: the sum of its movements, proved by `vafa ledger check`
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField(null=True, blank=True)
    sold_to = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "code"], name="giftcard_code_per_business"),
                       models.CheckConstraint(condition=models.Q(balance__gte=0), name="giftcard_balance_nonnegative")]

    def __str__(self) -> str:
        return f"gift card {self.code[-4:]}: {self.balance}"


class GiftCardMovement(ReasonFields):
    """Append-only: + when issued or given back by a return, − when it pays."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="movements")
    amount = models.BigIntegerField()
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.PROTECT, db_index=False)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["business", "card"], name="giftcard_move_card_idx"),
                   models.Index(fields=["business", "purchase"], name="giftcard_move_purchase_idx")]

    def __str__(self) -> str:
        return f"{self.amount:+d} on card {self.card_id}"
