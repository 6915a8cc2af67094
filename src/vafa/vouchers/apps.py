from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.vouchers"
    label = "vouchers"
    default_auto_field = "django.db.models.BigAutoField"
