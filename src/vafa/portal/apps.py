from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "vafa.portal"
    label = "portal"
    verbose_name = "Member portal"
