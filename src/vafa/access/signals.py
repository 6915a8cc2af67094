from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from vafa.access.backends import _ip
from vafa.access.services import record_login


@receiver(user_login_failed)
def _failed(sender, credentials, request=None, **kwargs):
    record_login(str(credentials.get("username", ""))[:150], _ip(request), success=False)


@receiver(user_logged_in)
def _succeeded(sender, request, user, **kwargs):
    record_login(user.get_username(), _ip(request), success=True)
