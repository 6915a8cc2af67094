from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from vafa.core import checks  # noqa: F401 - registers the deployment checks
