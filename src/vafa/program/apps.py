from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.program"
    label = "program"
    default_auto_field = "django.db.models.BigAutoField"
