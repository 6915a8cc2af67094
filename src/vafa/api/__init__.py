"""REST API v1 (Django Ninja) under /api/v1: routers from each app, one auth, RFC 9457 problems."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.urls import URLResolver
from django.urls.resolvers import RoutePattern
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from vafa.api.auth import BearerKey, OperatorSession
from vafa.api.problems import problem
from vafa.core.errors import InvalidInput, VafaError
from vafa.core.messages import PYDANTIC_CODES

log = logging.getLogger("vafa.api")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "required": ["field", "message"], "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "string"}}}},
    },
}
PROBLEM_STATUSES = {
    "400": "Bad request", "401": "No valid key or login", "403": "Scope, role or branch does not allow it",
    "404": "Not found (also another business's object)", "409": "Conflicts with the current state (insufficient "
    "balance, already used, duplicate, Idempotency-Key reused)", "413": "Body too large",
    "422": "Invalid input, with field errors", "429": "Rate limited",
}


class ByFirstSegment(URLResolver):
    """Ninja's URL patterns, one per path, resolved among those of the path's first segment only (`members` for
    `members/5/balance`): Django tries patterns in turn, raising and catching a Resolver404 for each include it
    passes, and the ninety of the API cost a request near the end of the list (`vouchers/validate`) 0.1 ms
    (issue 11). The same pattern matches: every first segment of the API's routes is literal, so a path can only
    match those of its own, and among them the order is kept; names, routes and reversing are unchanged. The
    match is the pattern's own, not wrapped in one more ResolverMatch by a resolver per segment: the same view,
    arguments, name and route; only `tried` (what a debug 404 page lists) no longer names a segment's group."""

    def __init__(self, patterns: list):
        heads: dict[str, list] = {}
        for pattern in patterns:
            heads.setdefault(str(pattern.pattern).partition("/")[0], []).append(pattern)
        self.heads = {head: tuple(group) for head, group in heads.items()}
        super().__init__(RoutePattern(""), [pattern for group in self.heads.values() for pattern in group])

    def resolve(self, path):
        for pattern in self.heads.get(path.partition("/")[0], ()):
            match = pattern.resolve(path)
            if match:
                return match
        return None


def by_first_segment(patterns: list) -> list:
    """The patterns behind one ByFirstSegment, or as they are if a first segment is not literal."""
    if any("<" in str(pattern.pattern).partition("/")[0] for pattern in patterns):
        return patterns
    return [ByFirstSegment(patterns)]


class VafaAPI(NinjaAPI):
    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        return by_first_segment(patterns), app_name, namespace

    def get_openapi_schema(self, **kwargs):
        """Every operation can answer a problem: document them all once, here."""
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem_content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for status, description in PROBLEM_STATUSES.items():
                    operation["responses"].setdefault(status, {"description": description, "content": problem_content})
        return schema


api = VafaAPI(
    title="Vafa API",
    version="1",
    description=(
        "Vafa loyalty platform API. Authenticate with `Authorization: Bearer <key>` (`vafa apikey create`). "
        "Amounts are integers in the business currency's minor unit. Every POST accepts `Idempotency-Key`; a "
        "replay answers the first status and body. Errors are `application/problem+json` (RFC 9457) in "
        "Persian or English by `Accept-Language`, and in the business's language without it. An object's own id "
        "is `id`; a reference is `<thing>_id`; fields marked deprecated are aliases kept for existing tills."
    ),
    urls_namespace="api-v1",
    auth=[BearerKey(), OperatorSession()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)

def _field(loc) -> str:
    parts = [str(p) for p in loc]
    # Ninja puts the source first ("body", "query", "path") and then the parameter name.
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    elif parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def validation_failed(request, exc):
    errors = []
    for error in exc.errors:
        code = PYDANTIC_CODES.get(error.get("type", ""))
        message = code or str(error.get("msg", "invalid")).removeprefix("Value error, ")
        errors.append({"field": _field(error.get("loc", ())), "message": message})
    return problem(request, 422, "invalid_input", errors=errors)


@api.exception_handler(InvalidInput)
def invalid_input(request, exc):
    return problem(request, 422, "invalid_input", errors=exc.errors)


@api.exception_handler(VafaError)
def vafa_error(request, exc):
    return problem(request, exc.status, exc.detail or exc.code, describe=exc.describe,
                   extra={k: v for k, v in exc.params.items() if isinstance(v, (int, str, list))})


@api.exception_handler(AuthenticationError)
def unauthorized(request, exc):
    response = problem(request, 401, "unauthorized")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def not_found(request, exc):
    return problem(request, 404, "not_found")


@api.exception_handler(HttpError)
def http_error(request, exc):
    return problem(request, exc.status_code, {400: "bad_request", 413: "body_too_large"}.get(exc.status_code, "error"))


@api.exception_handler(OverflowError)
def number_too_large(request, exc):
    # An integer beyond what the database stores (SQLite: 64 bits) in a path or query parameter.
    return problem(request, 422, "invalid_input", errors=[{"field": "", "message": "too_large"}])


@api.exception_handler(RecursionError)
def too_deeply_nested(request, exc):
    # A body nested deeper than Python's recursion limit, caught wherever it is walked (parsing, validation).
    return problem(request, 422, "invalid_input", errors=[{"field": "body", "message": "too_deeply_nested"}])


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return problem(request, 413, "body_too_large")
