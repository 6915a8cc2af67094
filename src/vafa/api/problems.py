"""RFC 9457 problem details, in Persian or English by Accept-Language."""

import json

from django.http import HttpResponse

from vafa.core.messages import is_code, message

TITLES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
          413: "body_too_large", 422: "invalid_input", 429: "rate_limited"}


def language_of(request) -> str:
    header = request.headers.get("Accept-Language", "") if request is not None else ""
    first = header.split(",")[0].strip().lower()
    if first.startswith("en"):
        return "en"
    return "fa" if first.startswith("fa") or not first else "en"


def problem(request, status: int, problem_code: str, *, errors: list[dict] | None = None,
            extra: dict | None = None) -> HttpResponse:
    code = problem_code
    lang = language_of(request)
    body = {
        "type": f"https://vafa.dev/problems/{code.replace('_', '-')}",
        "title": message(TITLES.get(status, code), lang),
        "status": status,
        "detail": message(code, lang),
        "code": code,
    }
    if errors is not None:
        body["errors"] = [{"field": e["field"], "message": message(e["message"], lang),
                           "code": e["message"] if is_code(e["message"]) else "invalid"} for e in errors]
    # Details of the error (needed amount, current status …) never overwrite the standard members.
    body.update({k: v for k, v in (extra or {}).items() if v is not None and k not in body})
    response = HttpResponse(json.dumps(body, ensure_ascii=False, default=str), status=status,
                            content_type="application/problem+json")
    response["Content-Language"] = lang
    return response


def unknown_api_path(request, *args, **kwargs) -> HttpResponse:
    """No operation at this path (or a parameter no route accepts, such as an id of 5,000 digits)."""
    return problem(request, 404, "not_found")
