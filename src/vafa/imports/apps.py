from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.imports"
    label = "imports"
    default_auto_field = "django.db.models.BigAutoField"
