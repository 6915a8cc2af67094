import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.backups"
    label = "backups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: the job imports models, so it is wired once the app registry is ready.
        from vafa.backups.tasks import scheduled_backup
        from vafa.jobs.services import register

        register("backup", dt.timedelta(days=1), scheduled_backup)
