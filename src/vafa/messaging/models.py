"""Messages to members (SMS and email): a business's settings and templates, the message log, broadcasts,
opt-outs and one-time codes."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Provider(models.TextChoices):
    KAVENEGAR = "kavenegar", "Kavenegar"
    FILE = "file", "File (messages.jsonl in the data dir)"
    CONSOLE = "console", "Console"
    NONE = "none", "None (nothing is sent)"


class MessageClass(models.TextChoices):
    """As Iranian SMS panels have them: transactional and informational ones may go from the service line;
    promotional ones go from the advertising line, respect quiet hours and skip members who opted out."""

    TRANSACTIONAL = "transactional", "Transactional"
    INFORMATIONAL = "informational", "Informational"
    PROMOTIONAL = "promotional", "Promotional"


class MessagingSettings(models.Model):
    """One row per business; absent means the defaults (no SMS provider)."""

    business = models.OneToOneField("tenancy.Business", on_delete=models.CASCADE, related_name="messaging")
    sms_provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.NONE)
    # When SMS was switched on: events from before (a backlog, an imported or generated history) are not told.
    sms_enabled_at = models.DateTimeField(null=True, blank=True)
    # Fernet token of the provider's API key (vafa.messaging.secrets); never answered in full.
    sms_api_key_encrypted = models.TextField(blank=True, default="")
    sms_sender = models.CharField(max_length=20, blank=True, default="")  # the advertising line
    sms_service_sender = models.CharField(max_length=20, blank=True, default="")  # the service line
    price_per_part = models.BigIntegerField(default=0)  # in the business currency's minor unit
    quiet_start = models.CharField(max_length=5, default="09:00")  # promotional messages only between these
    quiet_end = models.CharField(max_length=5, default="21:00")
    opt_out_word = models.CharField(max_length=20, default="لغو")
    admin_mobile = models.CharField(max_length=20, blank=True, default="")
    email_from = models.CharField(max_length=200, blank=True, default="")
    disabled_kinds = models.JSONField(default=list, blank=True)  # message kinds this business does not send
    # Days before a lot expires that its member is reminded; a currency's own `reminder_days` in the program
    # overrides it.
    expiry_reminder_days = models.PositiveSmallIntegerField(default=7)
    birthday_on = models.CharField(max_length=8, default="day")  # "day" or "month" (the Jalali birth month)
    otp_template = models.CharField(max_length=64, blank=True, default="")  # Kavenegar verify/lookup template
    inbound_token = models.CharField(max_length=64, blank=True, default="")  # secret path of the reply callback
    holidays = models.JSONField(default=list, blank=True)  # [] means the built-in list (messaging.occasions)
    # {occasion: {tier or "*": gift}}: what each greeting grants (messaging.occasions.clean_gifts)
    occasion_gifts = models.JSONField(default=dict, blank=True)
    # Transactional and informational messages to a member with an email: "off" (SMS only), "also" (SMS and
    # email) or "instead" (email instead of SMS).
    email_channel = models.CharField(max_length=8, default="off")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"messaging of {self.business_id}"


class MessageTemplate(models.Model):
    """A business's own text for one kind of message in one language; without a row the default applies."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    kind = models.CharField(max_length=32)
    language = models.CharField(max_length=2)
    text = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "kind", "language"],
                                               name="message_template_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.language}"


class Broadcast(models.Model):
    """A message to an audience (F51, F53): its recipients are Message rows queued with its id."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Recipients queued"
        DONE = "done", "Done"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    audience = models.JSONField(default=dict)
    template_kind = models.CharField(max_length=32, blank=True, default="")
    text = models.TextField(blank=True, default="")
    promotional = models.BooleanField(default=True)
    send_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["business", "state", "send_at"], name="broadcast_due_idx")]

    def __str__(self) -> str:
        return f"broadcast {self.pk}"


class Message(models.Model):
    """One SMS or email, from queued to a final state. A row is claimed (state `sending`) in one transaction
    and its outcome (provider message id and state) recorded in another, so a worker killed in between
    leaves a `sending` row that the next run first looks up at the provider by our id before sending again."""

    class State(models.TextChoices):
        COMPOSING = "composing", "Collecting the events of one change"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Handed to the provider (outcome not yet recorded)"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        BLOCKED = "blocked", "Blocked (opted out, or the operator's blacklist)"
        SKIPPED = "skipped", "Not sent (turned off, no channel, or nothing to say)"

    FINAL = (State.DELIVERED, State.FAILED, State.BLOCKED, State.SKIPPED)

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    # indexed with business_id first (Meta.indexes), as Citus wants
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", db_index=False)
    broadcast = models.ForeignKey(Broadcast, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="messages", db_index=False)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SMS)
    provider = models.CharField(max_length=16, blank=True, default="")
    to = models.CharField(max_length=254)
    sender = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=32)
    message_class = models.CharField(max_length=16, choices=MessageClass.choices,
                                     default=MessageClass.TRANSACTIONAL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    parts = models.PositiveSmallIntegerField(default=0)
    cost = models.BigIntegerField(default=0)
    provider_message_id = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # One message per key and business: the events of one purchase, a reminder for one set of lots, a greeting
    # for one occasion and year, a broadcast to one member. Empty: no such rule.
    dedupe_key = models.CharField(max_length=120, blank=True, default="")
    facts = models.JSONField(default=dict, blank=True)  # what the composed text says (events gathered)
    last_event_id = models.BigIntegerField(default=0)  # the newest outbox event folded into `facts`
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    final_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "dedupe_key"], condition=~Q(dedupe_key=""),
                                               name="message_once_per_key")]
        indexes = [models.Index(fields=["business", "state", "next_attempt_at"], name="message_due_idx"),
                   models.Index(fields=["state", "next_attempt_at"], name="message_global_due_idx"),
                   models.Index(fields=["business", "member", "id"], name="message_member_idx"),
                   models.Index(fields=["business", "broadcast", "state"], name="message_broadcast_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to} ({self.state})"


class OptOut(models.Model):
    """A member who asked not to receive promotional messages, or (everything=True) any message."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+",
                               db_index=False)  # the unique (business, member) indexes it
    everything = models.BooleanField(default=False)
    how = models.CharField(max_length=16)  # reply, api, portal
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "member"], name="opt_out_per_member")]

    def __str__(self) -> str:
        return f"opt-out {self.member_id}"


class OneTimeCode(models.Model):
    """A 5-digit code sent to a mobile for one purpose; only its hash is kept."""

    business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
    mobile = models.CharField(max_length=20)
    purpose = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    client_address = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["business", "mobile", "purpose", "created_at"], name="otp_mobile_idx"),
                   models.Index(fields=["business", "client_address", "created_at"], name="otp_address_idx")]

    def __str__(self) -> str:
        return f"code for {self.mobile} ({self.purpose})"
