"""Bearer API keys and operator sessions, both resolved to a Principal; keys are rate limited."""

import os
from dataclasses import replace

from ninja.security import HttpBearer, SessionAuth

from vafa.access.services import principal_for_key, principal_for_operator
from vafa.core import throttle
from vafa.core.errors import VafaError

RATE_LIMIT_PER_MINUTE = int(os.environ.get("VAFA_API_RATE_LIMIT", "20000"))
RATE_WINDOW = 60  # seconds


class RateLimited(VafaError):
    status = 429
    code = "rate_limited"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _count_request(business_id: int, key_id: str) -> None:
    """One request of a key in this minute, counted in the database so every worker process shares the limit."""
    if throttle.hit(business_id, f"api:api_key:{key_id}", RATE_WINDOW) > RATE_LIMIT_PER_MINUTE:
        raise RateLimited("rate_limited")


class BearerKey(HttpBearer):
    def authenticate(self, request, token):
        principal = principal_for_key(token)
        if principal is None:
            return None
        _count_request(principal.business_id, principal.actor.id)
        return replace(principal, actor=replace(principal.actor, ip=client_ip(request)))


class OperatorSession(SessionAuth):
    """Staff signed in to the web UI may call the API with their role's rights (CSRF-protected)."""

    def _get_key(self, request):
        # CSRF matters only for a signed-in session; without one this scheme simply does not apply, so a
        # request with no (or a bad) key gets 401, not a CSRF 403.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        operator = getattr(user, "operator", None) if user is not None and user.is_authenticated else None
        if operator is None or not operator.active:
            return None
        return principal_for_operator(operator, client_ip(request))
