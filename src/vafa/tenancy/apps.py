from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.tenancy"
    label = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"
