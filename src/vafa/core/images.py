"""Pictures people upload (a logo, a receipt photo, a gift's picture): raster images only, their type read from
their first bytes, never from the uploader's word or the file's name (an SVG or an HTML page could carry a
script). Pillow is not a dependency, so the pictures are checked by signature, not re-encoded; they are served
with the type found here and `X-Content-Type-Options: nosniff`, so a browser never reads one as a page."""

from __future__ import annotations

from django.http import HttpResponse

SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def image_type(data: bytes) -> str | None:
    """image/png, image/jpeg or image/webp, or None for anything else."""
    kind = next((kind for magic, kind in SIGNATURES.items() if data.startswith(magic)), None)
    return None if kind == "image/webp" and data[8:12] != b"WEBP" else kind


def picture_response(data: bytes, content_type: str):
    """An image as its own response: the checked type, no sniffing, nothing active even if opened directly."""
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
