import datetime as dt

from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.members"
    label = "members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: the jobs import models, so they are wired once the app registry is ready.
        from vafa.jobs.services import register
        from vafa.members.balances import expire_lots, grant_birthday_gifts, release_pending

        register("release_pending", dt.timedelta(minutes=5), release_pending)
        register("expire_lots", dt.timedelta(hours=1), expire_lots)
        register("birthday_gifts", dt.timedelta(hours=12), grant_birthday_gifts)
