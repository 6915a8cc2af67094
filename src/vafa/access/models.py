"""Who may do what: API keys, operators (staff) with roles and branches, login throttling, the audit trail."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from vafa.core.models import ActorFields


class Scope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    CASHIER = "cashier", "Cashier"
    ANALYST = "analyst", "Analyst (read-only)"


class ApiKey(models.Model):
    """A key belongs to one business, optionally one branch. Only a SHA-256 hash of the key is stored: keys are
    long random strings, so a fast hash is safe and keeps every request cheap; the key is shown once."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="api_keys")
    branch = models.ForeignKey("tenancy.Branch", null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=100, blank=True, default="")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.WRITE)
    prefix = models.CharField(max_length=16)  # the first characters of the secret, to find the row
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "prefix"], name="apikey_prefix_per_business")]

    def __str__(self) -> str:
        return f"{self.name or 'key'} {self.prefix}… ({self.scope})"


class Operator(models.Model):
    """A staff member of one business. Cashiers work only in their branches; analysts only read."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, related_name="operators")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    role = models.CharField(max_length=8, choices=Role.choices)
    branches = models.ManyToManyField("tenancy.Branch", blank=True)
    active = models.BooleanField(default=True)
    # The back office's language for this operator; empty follows the business's language.
    language = models.CharField(max_length=2, blank=True, default="", choices=[("fa", "فارسی"), ("en", "English")])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "user"], name="operator_user_per_business")]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class LoginAttempt(models.Model):
    username = models.CharField(max_length=150)
    ip = models.GenericIPAddressField(null=True, blank=True)
    success = models.BooleanField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["username", "at"], name="login_user_time_idx"),
                   models.Index(fields=["ip", "at"], name="login_ip_time_idx")]

    def __str__(self) -> str:
        return f"{self.username} {'ok' if self.success else 'failed'}"


class AuditEvent(ActorFields):
    """One row per use case that changed something, written in its transaction (vafa.core.usecase): who (the
    actor), from where (the channel, the address, the request line when a request carried it), what (the
    operation, its object and its parameters as data; never a sentence, never a secret)."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE, db_index=False)
    action = models.CharField(max_length=100)  # "POST /api/v1/purchases"; the operation when no request
    channel = models.CharField(max_length=16, blank=True, default="")  # api, panel, till, portal, cli, woocommerce, job
    operation = models.CharField(max_length=64, blank=True, default="")  # "purchase", "ledger.adjust" …
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["business", "at"], name="audit_time_idx"),
                   models.Index(fields=["business", "object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"
