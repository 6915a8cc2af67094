"""Bearer API keys and operator sessions, both resolved to a Principal; keys are rate limited."""

import os
import threading
from dataclasses import replace

from ninja.security import HttpBearer, SessionAuth

from vafa.access.permissions import Principal
from vafa.access.services import principal_for_key, principal_for_operator
from vafa.core import throttle
from vafa.core.errors import VafaError

RATE_LIMIT_PER_MINUTE = int(os.environ.get("VAFA_API_RATE_LIMIT", "20000"))
RATE_WINDOW = 60  # seconds
LEASE_MAX = 100  # hits a process takes from a key's shared count at once, at most
EXHAUSTED = -1

# Per process: subject → [window start, hits leased and not yet used (EXHAUSTED: the window's limit is reached)]
_leases: dict[str, list[int]] = {}
_lease_lock = threading.Lock()  # one lease taken at a time per process, so a process holds at most one block


class RateLimited(VafaError):
    status = 429
    code = "rate_limited"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def lease_size(limit: int) -> int:
    """A block of 1/200 of the limit (at most LEASE_MAX): every other process may hold one block it has not used
    yet, so a key is refused at most that share of its limit early per worker, and never let past it."""
    return max(1, min(LEASE_MAX, limit // 200))


def _count_request(business_id: int, key_id: str) -> None:
    """One request of a key in this minute. The count is kept in the database so every worker process shares the
    limit, but a process takes hits from it in blocks (a lease) and uses them up in memory: one upsert per block
    instead of one per request. A lease never goes past the limit, so the limit holds exactly across workers;
    once the window is used up, this process refuses the key without asking again until the next window."""
    subject = f"api:api_key:{key_id}"
    limit = RATE_LIMIT_PER_MINUTE
    with _lease_lock:
        start = throttle.window_start(RATE_WINDOW)
        held = _leases.get(subject)
        if held is None or held[0] != start or held[1] == 0:
            block = lease_size(limit)
            total = throttle.hit(business_id, subject, RATE_WINDOW, now=start, count=block)
            usable = min(block, limit - (total - block))
            if len(_leases) >= 10_000:
                _leases.clear()  # a dropped lease only wastes what it held
            held = _leases[subject] = [start, usable if usable > 0 else EXHAUSTED]
        if held[1] == EXHAUSTED:
            raise RateLimited("rate_limited")
        held[1] -= 1


def forget_leases() -> None:
    """Drop this process's leases (tests: what another worker process would hold)."""
    with _lease_lock:
        _leases.clear()


class BearerKey(HttpBearer):
    def __call__(self, request):
        # Ninja's reads request.headers, which builds a dict of every header first: the one needed, at once
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request, token):
        principal = principal_for_key(token)
        if principal is None:
            return None
        _count_request(principal.business_id, principal.actor.id)
        return with_address(principal, client_ip(request))


# Per process: (id of a principal as principal_for_key keeps it, client address) → (that principal, it with the
# address). principal_for_key hands out one object per key while it keeps the key, so a till's requests reuse one
# answer instead of building two dataclasses each (issue 11). The principal itself is held beside its id, so the id
# cannot be another's while the entry lives.
_addressed: dict[tuple[int, str | None], tuple[Principal, Principal]] = {}


def with_address(principal: Principal, ip: str | None) -> Principal:
    held = _addressed.get((id(principal), ip))
    if held is not None and held[0] is principal:
        return held[1]
    addressed = replace(principal, actor=replace(principal.actor, ip=ip))
    if len(_addressed) >= 10_000:
        _addressed.clear()  # a dropped entry is only built again
    _addressed[(id(principal), ip)] = (principal, addressed)
    return addressed


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
