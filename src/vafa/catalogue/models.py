"""Gift groups, gifts, partner codes and members' requests for gifts."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from vafa.core.models import ActorFields

PRICE_CURRENCIES = [("coins", "Coins"), ("points", "Points"), ("wallet", "Wallet credit")]


PICTURE_PREFIX = "/media/gifts/"  # uploaded gift pictures, served by vafa.catalogue.views


class GiftGroup(models.Model):
    """A shelf of the catalogue; gifts are shown by group position."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["business", "position"], name="gift_group_position_idx")]

    def __str__(self) -> str:
        return self.title


class Gift(models.Model):
    """A gift with a price in one currency. `stock` None means unlimited; a partner gift (partner_name set) has
    its stock in imported codes instead."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    group = models.ForeignKey(GiftGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="gifts")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # An upload's address here (PICTURE_PREFIX + random name), or an address given through the API.
    picture = models.CharField(max_length=500, blank=True, default="")
    display_from = models.DateField(null=True, blank=True)  # inclusive, in the business's timezone
    display_until = models.DateField(null=True, blank=True)  # inclusive
    price_currency = models.CharField(max_length=16, choices=PRICE_CURRENCIES)
    price = models.BigIntegerField()
    stock = models.IntegerField(null=True, blank=True)
    partner_name = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["business", "active", "group"], name="gift_active_group_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="gift_price_positive"),
            models.CheckConstraint(condition=Q(stock__isnull=True) | Q(stock__gte=0), name="gift_stock_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_partner(self) -> bool:
        return bool(self.partner_name)

    @property
    def uploaded_picture(self) -> str:
        """The picture's address when it was uploaded here; "" for none, or for an address on another site, which
        this site's Content-Security-Policy (img-src 'self') would not show anyway."""
        return self.picture if self.picture.startswith(PICTURE_PREFIX) else ""


class GiftRequest(ActorFields):
    """A member's request for a gift; the actor fields say who asked. The price was taken when it was made."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        FULFILLED = "fulfilled", "Fulfilled"
        REJECTED = "rejected", "Rejected (refunded)"
        SHIPPED = "shipped", "Shipped"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="gift_requests")
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="requests")
    price_currency = models.CharField(max_length=16, choices=PRICE_CURRENCIES)
    price = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    stock_reserved = models.BooleanField(default=False)  # one unit of Gift.stock was taken for it
    debit_entry = models.ForeignKey("ledger.Entry", on_delete=models.PROTECT, related_name="+")
    refund_entry = models.ForeignKey("ledger.Entry", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    code = models.CharField(max_length=200, blank=True, default="")  # the partner code handed out
    shipping_note = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="")  # the operator's note on fulfilment or rejection
    requested_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # Who made the last change of status (fulfil, reject, ship).
    handled_by_kind = models.CharField(max_length=16, blank=True, default="")
    handled_by_id = models.CharField(max_length=64, blank=True, default="")
    handled_by_label = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["business", "status"], name="gift_request_status_idx"),
            models.Index(fields=["business", "member"], name="gift_request_member_idx"),
            models.Index(fields=["business", "gift"], name="gift_request_gift_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="gift_request_price_positive")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.status}"


class GiftCode(models.Model):
    """A partner's code, imported as stock and handed out once, to one request."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        HANDED_OUT = "handed_out", "Handed out"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    gift = models.ForeignKey(Gift, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    request = models.ForeignKey(GiftRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="codes")
    imported_at = models.DateTimeField(default=timezone.now)
    handed_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "gift", "code"], name="gift_code_once_per_gift")]
        indexes = [models.Index(fields=["business", "gift", "status"], name="gift_code_status_idx")]

    def __str__(self) -> str:
        return self.code
