from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"
