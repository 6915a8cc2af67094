from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from vafa.outbox.services import HANDLERS
        from vafa.webhooks.services import fan_out

        # Every outbox event passes through here once it is committed; fan_out is idempotent.
        HANDLERS["webhooks"] = fan_out
