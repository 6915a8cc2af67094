"""API keys, operators, login throttling and the audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import time

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from vafa.access.models import ApiKey, LoginAttempt, Operator, Role, Scope
from vafa.access.permissions import ROLE_SCOPE, Principal
from vafa.core.actor import Actor
from vafa.core.errors import Conflict, InvalidInput, NotFound

# Login throttling per (username, address) pair: five free failures, then each further try waits 4 s, 8 s,
# 16 s … (at most an hour) after the last failure. A success, or a day without failures, starts afresh.
LOGIN_FREE_FAILURES = 5
LOGIN_FIRST_WAIT_SECONDS = 4
LOGIN_MAX_WAIT_SECONDS = 3600
LOGIN_MEMORY = dt.timedelta(hours=24)
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{12,100}")  # what secrets.token_urlsafe makes
# A valid key's principal is kept per process for this long, so a request costs no key lookup: a key revoked
# in another process (the API, a screen, `vafa apikey revoke`) is refused everywhere within this bound; in the
# revoking process at once (docs/decisions.md). Unknown and revoked keys are never kept: a new key works at once.
KEY_CACHE_SECONDS = 10
KEY_CACHE_SIZE = 10_000  # keys held per process before the cache starts afresh
_principals: dict[str, tuple[float, Principal]] = {}  # key hash → (read at, time.monotonic(); the principal)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_key(business, *, scope: str = Scope.WRITE, branch=None, name: str = "") -> tuple[ApiKey, str]:
    """A new key; answers the row and the key itself, which is shown once and never stored."""
    if scope not in Scope.values:
        raise InvalidInput("scope", "unknown_choice")
    secret = secrets.token_urlsafe(32)
    key = f"vk_{business.pk}_{secret}"
    row = ApiKey.objects.create(business=business, branch=branch, scope=scope, name=name[:100],
                                prefix=secret[:12], key_hash=_hash(key))
    return row, key


def principal_for_key(key: str) -> Principal | None:
    """The principal a bearer key stands for, or None for an unknown, malformed or revoked key."""
    parts = key.split("_", 2)
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough for a database id.
    if (len(parts) != 3 or parts[0] != "vk" or not parts[1].isascii() or not parts[1].isdigit()
            or len(parts[1]) > 18 or not SECRET_PATTERN.fullmatch(parts[2])):
        return None
    digest = _hash(key)
    held = _principals.get(digest)
    if held is not None and time.monotonic() - held[0] < KEY_CACHE_SECONDS:
        return held[1]
    row = (ApiKey.objects.filter(business_id=int(parts[1]), prefix=parts[2][:12], revoked_at__isnull=True)
           .only("business_id", "branch_id", "scope", "name", "prefix", "key_hash", "last_used_at").first())
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        _principals.pop(digest, None)
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)  # coarse, to keep reads cheap
    principal = Principal(business_id=row.business_id, scope=row.scope,
                          branch_ids=frozenset({row.branch_id}) if row.branch_id else None,
                          actor=Actor("api_key", str(row.pk), row.name or f"key {row.prefix}"))
    if len(_principals) >= KEY_CACHE_SIZE:
        _principals.clear()
    _principals[digest] = (time.monotonic(), principal)
    return principal


def forget_keys() -> None:
    """Drop every kept principal: after a revocation in this process, and between tests."""
    _principals.clear()


def principal_for_operator(operator: Operator, ip: str | None = None) -> Principal:
    branches = None
    if operator.role == Role.CASHIER:
        branches = frozenset(operator.branches.values_list("id", flat=True))
    return Principal(business_id=operator.business_id, scope=ROLE_SCOPE[Role(operator.role)], branch_ids=branches,
                     actor=Actor("operator", str(operator.pk), operator.user.get_username(), ip), role=operator.role)


@transaction.atomic
def create_operator(business, *, username: str, password: str | None, role: str, branches=(),
                    email: str = "") -> Operator:
    """A new login with a role; without a password the login is unusable until an invitation sets one."""
    if role not in Role.values:
        raise InvalidInput("role", "unknown_choice")
    if role == Role.CASHIER and not branches:
        raise InvalidInput("branches", "cashier_needs_a_branch")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise Conflict("username_taken")
    user = user_model.objects.create_user(username=username, password=password, email=email)
    return make_operator(business, user, role=role, branches=branches)


@transaction.atomic
def make_operator(business, user, *, role: str, branches=()) -> Operator:
    """Give an existing login a role in a business (once: a login belongs to one business)."""
    operator, _ = Operator.objects.get_or_create(user=user, defaults={"business": business, "role": role})
    operator.branches.set(branches)
    return operator


def login_wait(username: str, ip: str | None) -> int:
    """Seconds this (username, address) pair must still wait before its password is checked again; 0 means
    go ahead. Failures of the same username from another address never delay this one, so a guesser cannot
    lock the owner out, and users behind one proxy address do not delay each other."""
    now = timezone.now()
    pair = LoginAttempt.objects.filter(username=username, ip=ip, at__gte=now - LOGIN_MEMORY)
    last_success = pair.filter(success=True).order_by("-at").values_list("at", flat=True).first()
    failures = pair.filter(success=False)
    if last_success is not None:
        failures = failures.filter(at__gt=last_success)
    count = failures.count()
    if count < LOGIN_FREE_FAILURES:
        return 0
    last_failure = failures.order_by("-at").values_list("at", flat=True).first()
    wait = min(LOGIN_FIRST_WAIT_SECONDS * 2 ** (count - LOGIN_FREE_FAILURES), LOGIN_MAX_WAIT_SECONDS)
    remaining = (last_failure + dt.timedelta(seconds=wait) - now).total_seconds()
    return max(0, math.ceil(remaining))


def record_login(username: str, ip: str | None, success: bool) -> None:
    LoginAttempt.objects.create(username=username[:150], ip=ip, success=success)


@transaction.atomic
def revoke_api_key(business, key_id: int) -> ApiKey:
    """Revoke a key at once; revoking it again changes nothing."""
    row = ApiKey.objects.select_for_update().filter(business=business, pk=key_id).first()
    if row is None:
        raise NotFound("not_found")
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        # at once in this process (again after commit, in case a request kept it meanwhile); other processes
        # drop it within KEY_CACHE_SECONDS
        forget_keys()
        transaction.on_commit(forget_keys)
    return row


@transaction.atomic
def set_operator_active(business, operator_id: int, active: bool) -> Operator:
    """Deactivate (or reactivate) an operator: a deactivated one can no longer use the panel or the API; the
    business's last active owner cannot be deactivated."""
    operator = Operator.objects.select_for_update().filter(business=business, pk=operator_id).first()
    if operator is None:
        raise NotFound("not_found")
    if not active and operator.role == Role.OWNER and not Operator.objects.filter(
            business=business, role=Role.OWNER, active=True).exclude(pk=operator.pk).exists():
        raise Conflict("last_owner")
    operator.active = active
    operator.save(update_fields=["active"])
    return operator


def set_operator_language(operator: Operator, language: str) -> None:
    """The back office's language for one operator ("" follows the business)."""
    if language not in ("", "fa", "en"):
        raise InvalidInput("language", "unknown_language")
    Operator.objects.filter(pk=operator.pk).update(language=language)
