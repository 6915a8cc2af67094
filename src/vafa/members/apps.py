from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.members"
    label = "members"
    default_auto_field = "django.db.models.BigAutoField"
