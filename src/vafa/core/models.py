from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class ActorFields(models.Model):
    """Who caused a write, and from where: the audit trail on every row a use case writes."""

    actor_kind = models.CharField(max_length=16, default="system")  # operator, api_key, system
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=150, blank=True, default="")
    actor_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """The first answer to an external write, returned again when the same key comes back."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    operation = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)  # sha256 of the canonical request
    response = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    status_code = models.PositiveSmallIntegerField(default=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "key"], name="idempotency_key_per_business")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"
