from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.backups"
    label = "backups"
    default_auto_field = "django.db.models.BigAutoField"
