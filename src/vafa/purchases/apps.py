import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.purchases"
    label = "purchases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: the job imports models, so it is wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.purchases.tasks import review_tiers

        register("review_tiers", dt.timedelta(hours=6), review_tiers)
