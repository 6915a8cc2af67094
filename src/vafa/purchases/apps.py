from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.purchases"
    label = "purchases"
    default_auto_field = "django.db.models.BigAutoField"
