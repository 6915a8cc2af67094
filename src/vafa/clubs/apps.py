import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.clubs"
    label = "clubs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: the job imports models, so it is wired once the app registry is ready.
        from vafa.clubs.services import renew_plans
        from vafa.jobs.services import register

        register("renew_plans", dt.timedelta(hours=1), renew_plans)
