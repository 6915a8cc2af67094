import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: these import models, so they are wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.outbox.services import HANDLERS
        from vafa.webhooks.services import deliver_webhooks, fan_out

        # Every outbox event passes through here once it is committed; fan_out is idempotent.
        HANDLERS["webhooks"] = fan_out
        register("deliver_webhooks", dt.timedelta(seconds=0), deliver_webhooks)
