"""Helpers every router uses: the caller's business, writes through the one use-case wrapper, cursor pages."""

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

from ninja import Status

from vafa.core.errors import InvalidInput
from vafa.core.usecase import run_use_case
from vafa.tenancy.cache import business_of
from vafa.tenancy.models import Business

R = TypeVar("R")


def principal(request):
    return request.auth


def business(request, token: int | None = None) -> Business:
    """The caller's business, as this process keeps it (tenancy.cache); `token`: its cache token as the request
    has just read it beside its own row, which confirms the copy or replaces it."""
    cached = getattr(request, "_vafa_business", None)
    if cached is None or token is not None:
        cached = request._vafa_business = business_of(request.auth.business_id, token)
    return cached


def idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200):
        raise InvalidInput("Idempotency-Key", "too_long" if key else "required")
    return key or None


def write(request, operation: str, payload: dict, use_case: Callable[[], R], *, status: int, object_type: str,
          object_id: str | Callable[[Any], Any] | None = "id", key: str | None = None,
          in_batches: bool = False) -> tuple[R, bool]:
    """A change the route makes itself (not yet a use case of a service's own): run through the one wrapper,
    with its transaction, idempotency record and audit row (vafa.core.usecase)."""
    return run_use_case(business(request), operation, payload, use_case, actor=request.auth.actor, key=key,
                        object_type=object_type, object_id=object_id, status=status, in_batches=in_batches)


def idempotent_write(request, response, operation: str, payload: dict, use_case: Callable[[], dict], *,
                     status: int = 201, object_type: str = "", id_field: str = "id", in_batches: bool = False) -> Status:
    """Run a write once per Idempotency-Key: a replay answers the first status and body, marked only by the
    header `Idempotent-Replayed: true`. A bulk write (`in_batches`) commits in batches of its own
    (core.idempotency.run_idempotent_in_batches)."""
    body, replayed = write(request, f"api:{operation}", payload, use_case, status=status, object_type=object_type,
                           object_id=id_field, key=idempotency_key(request), in_batches=in_batches)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(status, body)


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "bad_cursor") from None
    return value


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def page(queryset, cursor: str | None, limit: int, serialize: Callable) -> dict:
    """Newest first by id; `next_cursor` continues after the last item."""
    limit = max(1, min(limit, 200))
    after = decode_cursor(cursor)
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [serialize(row) for row in rows],
            "next_cursor": encode_cursor(rows[-1].pk) if more and rows else None}
