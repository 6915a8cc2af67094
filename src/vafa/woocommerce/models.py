from django.db import models


def default_paid_statuses() -> list[str]:
    return ["processing", "completed"]


class WooConnection(models.Model):
    """One WooCommerce shop sending order webhooks to one branch. The secret signs WooCommerce's deliveries
    (WooCommerce → Settings → Advanced → Webhooks → Secret); the token, "<business_id>-<random>", is the
    public part of the delivery URL and finds the connection."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="woo_connections")
    branch = models.ForeignKey("tenancy.Branch", on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=80)
    secret = models.CharField(max_length=128)
    sign_up_unknown = models.BooleanField(default=True)  # sign up a member for an unknown billing mobile
    paid_statuses = models.JSONField(default=default_paid_statuses)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "token"], name="woo_token_per_business")]
        verbose_name = "WooCommerce connection"

    def __str__(self) -> str:
        return f"WooCommerce → {self.branch.code} ({'active' if self.active else 'inactive'})"


class WooOrder(models.Model):
    """What Vafa knows of one WooCommerce order: its purchase, the last status seen and the refunds applied."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    connection = models.ForeignKey(WooConnection, on_delete=models.CASCADE, related_name="orders")
    order_id = models.BigIntegerField()
    purchase = models.ForeignKey("purchases.Purchase", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    last_status = models.CharField(max_length=32, blank=True, default="")
    last_topic = models.CharField(max_length=32, blank=True, default="")
    last_delivery_id = models.CharField(max_length=64, blank=True, default="")
    applied_refunds = models.JSONField(default=list, blank=True)  # WooCommerce refund ids already returned
    ignored = models.CharField(max_length=32, blank=True, default="")  # why the last delivery changed nothing
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "connection", "order_id"],
                                               name="woo_order_per_connection")]
        indexes = [models.Index(fields=["business", "purchase"], name="woo_order_purchase_idx")]
        verbose_name = "WooCommerce order"

    def __str__(self) -> str:
        return f"WooCommerce order {self.order_id} ({self.last_status})"
