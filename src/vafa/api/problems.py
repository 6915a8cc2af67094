"""RFC 9457 problem details, in Persian or English by Accept-Language."""

import json
from collections.abc import Callable

from django.http import HttpResponse

from vafa.core.messages import is_code, message
from vafa.tenancy.cache import business_of
from vafa.tenancy.models import Business

TITLES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
          413: "body_too_large", 422: "invalid_input", 429: "rate_limited"}


def language_of(request) -> str:
    """Accept-Language when it is given; otherwise the language of the caller's business (Persian when the
    caller is not known)."""
    header = request.headers.get("Accept-Language", "") if request is not None else ""
    first = header.split(",")[0].strip().lower()
    if first.startswith("en"):
        return "en"
    if first:
        return "fa" if first.startswith("fa") else "en"
    return _business_language(request)


def _business_language(request) -> str:
    business = getattr(request, "_vafa_business", None)
    if business is not None:
        return business.language
    business_id = getattr(getattr(request, "auth", None), "business_id", None)
    if business_id is None:
        return "fa"
    try:
        return business_of(business_id).language or "fa"
    except Business.DoesNotExist:
        return "fa"


def _field_error(error: dict, lang: str) -> dict:
    """One field's error; its numbers (what was asked, what is possible), if any, fill the message and travel
    beside it."""
    params = error.get("params") or {}
    text = message(error["message"], lang)
    return {"field": error["field"], "message": text.format(**params) if params else text,
            "code": error["message"] if is_code(error["message"]) else "invalid"} | params


def problem(request, status: int, problem_code: str, *, errors: list[dict] | None = None,
            extra: dict | None = None, describe: Callable[[str], str | None] | None = None) -> HttpResponse:
    """`describe(language)`, when given, says more than the code's text (why a code was refused …)."""
    code = problem_code
    lang = language_of(request)
    body = {
        "type": f"https://vafa.dev/problems/{code.replace('_', '-')}",
        "title": message(TITLES.get(status, code), lang),
        "status": status,
        "detail": (describe(lang) if describe else None) or message(code, lang),
        "code": code,
    }
    if errors is not None:
        body["errors"] = [_field_error(e, lang) for e in errors]
    # Details of the error (needed amount, current status …) never overwrite the standard members.
    body.update({k: v for k, v in (extra or {}).items() if v is not None and k not in body})
    response = HttpResponse(json.dumps(body, ensure_ascii=False, default=str), status=status,
                            content_type="application/problem+json")
    response["Content-Language"] = lang
    return response


def unknown_api_path(request, *args, **kwargs) -> HttpResponse:
    """No operation at this path (or a parameter no route accepts, such as an id of 5,000 digits)."""
    return problem(request, 404, "not_found")
