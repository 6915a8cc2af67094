from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from vafa.core.reasons import Reason, reason_fields, render


class ActorFields(models.Model):
    """Who caused a write, and from where: the audit trail on every row a use case writes."""

    actor_kind = models.CharField(max_length=16, default="system")  # operator, api_key, system
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=150, blank=True, default="")
    actor_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        abstract = True


class ReasonFields(models.Model):
    """Why a row was written, as data (vafa.core.reasons): a code and its parameters, worded when read."""

    reason_code = models.CharField(max_length=64, default="note")
    reason_params = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    @property
    def reason(self) -> str:
        """The reason in the business's language (jobs, messages, the admin). A screen or an answer words it for
        its reader instead: reason_in(language), the `reason` template filter."""
        return render(self.reason_code, self.reason_params, self.business.language, self.business.calendar)

    @reason.setter
    def reason(self, value: Reason | str) -> None:
        """A Reason, or a string a person typed (stored as a note)."""
        fields = reason_fields(value)
        self.reason_code, self.reason_params = fields["reason_code"], fields["reason_params"]

    def reason_in(self, language: str | None = None, calendar: str | None = None) -> str:
        """In `language` (default: the active one, the reader's) and `calendar`."""
        return render(self.reason_code, self.reason_params, language, calendar)


class IdempotencyRecord(models.Model):
    """The first answer to an external write, returned again when the same key comes back."""

    class Namespace(models.TextChoices):
        CLIENT = "client", "A client's Idempotency-Key"
        SYSTEM = "system", "A key Vafa makes itself (WooCommerce orders and refunds)"

    # no index of its own: every read goes through the unique (business, namespace, key) one
    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    # Apart, so no client can plant a key that Vafa will make later (woo-refund-…) and block that write.
    namespace = models.CharField(max_length=8, choices=Namespace.choices, default=Namespace.CLIENT)
    key = models.CharField(max_length=200)
    operation = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)  # sha256 of the canonical request
    response = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    status_code = models.PositiveSmallIntegerField(default=200)
    # A bulk write's progress, moved in each batch's own transaction; an interrupted one (a failure after some
    # batches committed) keeps its claim so the same key resumes it from here (run_idempotent_in_batches).
    progress = models.PositiveIntegerField(default=0)
    interrupted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "namespace", "key"],
                                               name="idempotency_key_per_namespace")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"


class RateCounter(models.Model):
    """A fixed-window counter kept in the database, so every worker process shares it: API requests per key,
    failed voucher-code lookups per caller and per member. One row per (business, subject), reset in place when
    its window has passed (core.throttle)."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    subject = models.CharField(max_length=80)  # "api:api_key:7", "voucher-guess:member:12" …
    window_start = models.BigIntegerField()  # Unix seconds, a multiple of the window's length
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "subject"], name="rate_counter_per_subject")]

    def __str__(self) -> str:
        return f"{self.subject}: {self.hits}"
