from django.apps import AppConfig


class PanelConfig(AppConfig):
    name = "vafa.panel"
    label = "panel"
    verbose_name = "Back office"
