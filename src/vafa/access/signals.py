from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from vafa.access.backends import _ip
from vafa.access.services import record_login

# Failures are recorded by the backend, which alone knows whether a password was checked: an attempt refused
# while its pair waits guessed nothing and does not lengthen the wait.


@receiver(user_logged_in)
def _succeeded(sender, request, user, **kwargs):
    record_login(user.get_username(), _ip(request), success=True)
