from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: models and receivers are imported once the app registry is ready.
        from vafa.access import signals  # noqa: F401 - registers the login signal receivers
        from vafa.access.models import AuditEvent
        from vafa.core.usecase import AUDIT_ROWS

        AUDIT_ROWS["model"] = AuditEvent
