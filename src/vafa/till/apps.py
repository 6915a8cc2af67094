from django.apps import AppConfig


class TillConfig(AppConfig):
    name = "vafa.till"
    verbose_name = "Till"
