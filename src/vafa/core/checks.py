"""Deployment checks of our own (`vafa check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def published_secret_key(app_configs, **kwargs):
    """The key earlier versions used when none was set is public: sessions and CSRF tokens signed with it can
    be forged by anyone."""
    if settings.SECRET_KEY == settings.PUBLISHED_SECRET_KEY:
        return [Warning("SECRET_KEY is the key published in Vafa's source code",
                        hint="unset VAFA_SECRET_KEY to have a random key generated into the data directory, "
                             "or set it to a long random value", id="vafa.W001")]
    return []
