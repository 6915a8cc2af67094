import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: the job imports models, so it is wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.outbox.services import deliver_due

        register("deliver_outbox", dt.timedelta(seconds=0), deliver_due)
