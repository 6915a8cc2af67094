import secrets

from django.db import models

from vafa.core.money import CURRENCY_CHOICES


class Business(models.Model):
    """The tenant. Every tenant-owned row carries business_id and every index starts with it."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="IRT")
    timezone = models.CharField(max_length=64, default="Asia/Tehran")
    language = models.CharField(max_length=2, choices=[("fa", "فارسی"), ("en", "English")], default="fa")
    calendar = models.CharField(max_length=16, choices=[("jalali", "Jalali"), ("gregorian", "Gregorian")],
                                default="jalali")
    phone_region = models.CharField(max_length=2, default="IR")
    # how members reach the business: shown on the member portal's contact page
    contact_phone = models.CharField(max_length=32, blank=True, default="")
    contact_address = models.TextField(blank=True, default="")
    website = models.URLField(max_length=300, blank=True, default="")
    instagram = models.CharField(max_length=30, blank=True, default="")  # the handle, without @
    # what a till may let a member spend (points' worth + wallet) on one purchase while offline; checked again
    # when the purchase is sent. 0: spending offline is refused.
    offline_spend_allowance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # What processes cache of the business (its active program and branches: program.cache) is good while
    # this holds the value it had when read; each change writes a new random one (tenancy.services.touch)
    cache_token = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # every change of the row is a new token, so each process's cached copy (tenancy.cache, program.cache)
        # is seen to be old at its next check
        fields = kwargs.get("update_fields")
        if fields is None or fields:  # an empty update_fields saves nothing, so nothing changes
            self.cache_token = secrets.randbits(62)
            if fields is not None:
                kwargs["update_fields"] = {*fields, "cache_token"}
        super().save(*args, **kwargs)


class Branch(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="branches")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "code"], name="branch_code_per_business")]
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"
