from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from vafa.access import signals  # noqa: F401 - registers the login signal receivers
