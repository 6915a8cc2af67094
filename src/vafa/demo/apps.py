from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"
