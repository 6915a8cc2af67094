from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from vafa.access.services import login_allowed


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


class ThrottledModelBackend(ModelBackend):
    """Username/password login that refuses, without checking the password, once a username or an address has
    failed too often (every login form, the admin's included, goes through it)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and not login_allowed(username, _ip(request)):
            raise PermissionDenied("too many failed logins")  # stops every backend: authenticate() returns None
        return super().authenticate(request, username=username, password=password, **kwargs)
