from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.woocommerce"
    label = "woocommerce"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "WooCommerce"
