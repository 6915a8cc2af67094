from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.clubs"
    label = "clubs"
    default_auto_field = "django.db.models.BigAutoField"
