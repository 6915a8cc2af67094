"""Refusals made before any view runs: bodies larger than any page or endpoint takes (every path), API
requests whose path or query carries a NUL character, and JSON bodies nested deeper than any request needs."""

import re

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from vafa.api.problems import problem
from vafa.core.schemas import MAX_DEPTH

JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(raw: bytes) -> int:
    """How deep objects and arrays sit inside each other in a JSON text, counted without parsing it: Python's
    parser itself runs out of stack (a RecursionError, answered as a parse error) long before StrictSchema
    could refuse the parsed body, and where depends on how deep the server's own stack already is."""
    depth = deepest = 0
    for bracket in BRACKET.findall(JSON_STRING.sub(b"", raw)):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than settings.MAX_REQUEST_BYTES with 413, from its
    Content-Length, before a byte of the body is read. It stands first in the stack: CSRF and the session read
    the body of a form post (a multipart upload is parsed, files spooled to disk), so without it a 200 MB
    upload to a public page would be read whole before being refused. DATA_UPLOAD_MAX_MEMORY_SIZE then bounds
    the non-file part of what is let through. A body without Content-Length is not read by Django at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem(request, 400, "bad_request")
        if declared > settings.MAX_REQUEST_BYTES:
            response = problem(request, 413, "body_too_large")
            response["Connection"] = "close"  # the unread body must not be taken for the next request
            return response
        return self.get_response(request)


class RejectNulMiddleware:
    """No database column can store NUL (PostgreSQL refuses it outright), and no real identifier contains one.
    Request bodies are checked by core.schemas.StrictSchema (text, once per body); only their nesting is checked
    here, before the JSON parser could run out of stack on it. Django's form fields refuse NUL themselves."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            # no query string, no query parameter to check: request.GET is not built for nothing (issue 11)
            query = request.GET.lists() if request.META.get("QUERY_STRING") else ()
            bad = [name for name, values in query if "\x00" in name or any("\x00" in v for v in values)]
            if "\x00" in request.path:
                bad.append("path")
            if bad:
                return problem(request, 422, "invalid_input",
                               errors=[{"field": name.replace("\x00", ""), "message": "bad_text"} for name in bad])
            if request.content_type == "application/json" and request.method in ("POST", "PUT", "PATCH"):
                try:
                    raw = request.body
                except RequestDataTooBig:
                    raw = b""  # refused by the view's own parsing
                # counting brackets is a hundredth of the regex's cost, and a body with no more of them than the
                # limit cannot be nested past it: the usual body is refused or passed here in a microsecond
                if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
                    return problem(request, 422, "invalid_input",  # "payload", as the schemas name a body
                                   errors=[{"field": "payload", "message": "too_deeply_nested"}])
        return self.get_response(request)
