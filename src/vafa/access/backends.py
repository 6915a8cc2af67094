"""Username/password login, throttled per (username, address) pair with growing delays (issue 10)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.utils import translation

from vafa.access.services import login_wait, record_login
from vafa.core.messages import message


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


class ThrottledModelBackend(ModelBackend):
    """Every login form, the admin's included, goes through it. While a (username, address) pair must wait
    after repeated failures, its password is not checked at all (the attempt is refused and not counted: it
    guessed nothing); once the wait is over the right password works, whatever failed from elsewhere."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            return None
        username = str(username)[:150]
        wait = login_wait(username, _ip(request))
        if wait:
            if request is not None:
                request.login_retry_after = wait  # for the form's message
            raise PermissionDenied("too many failed logins")  # stops every backend: authenticate() answers None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_login(username, _ip(request), success=False)
        return user


class _RetryAfterMessage:
    """The form says how long to wait instead of "wrong password" while the pair is throttled."""

    request = None

    def get_invalid_login_error(self):
        wait = getattr(self.request, "login_retry_after", None)
        if wait:
            text = message("login_wait", translation.get_language() or "fa").format(seconds=wait)
            return forms.ValidationError(text, code="login_wait")
        return super().get_invalid_login_error()  # type: ignore[misc]


class LoginForm(_RetryAfterMessage, AuthenticationForm):
    pass


class AdminLoginForm(_RetryAfterMessage, AdminAuthenticationForm):
    pass
