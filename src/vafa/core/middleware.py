"""Site-wide middleware: the client's address behind a proxy, the Content-Security-Policy of HTML pages, the
channel every write of a request is audited as coming from, and the screens' own middleware kept off API calls."""

import functools
import ipaddress

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.middleware import csrf, locale
from django.utils import translation
from django.utils.cache import patch_vary_headers

from vafa.core.usecase import origin

# Scripts only from our own files (no inline script, no eval, no other origin): an injected <script> does not
# run. Styles also allow inline ones: the admin and the API docs (Swagger UI) set style attributes, which a
# nonce cannot cover, and a style cannot run code. Images may be data: URLs (Swagger's and the admin's icons).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class ForwardedClientMiddleware:
    """Behind a reverse proxy (settings.BEHIND_PROXY) every request comes from the proxy's address: take the
    client's from the last X-Forwarded-For entry, the one the proxy itself appended (entries before it are
    whatever the client claimed). Login throttling, audit rows and rate limits then see each client apart.
    Off by default: without a proxy that header is the client's own say-so."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.BEHIND_PROXY:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
            try:
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(forwarded))
            except ValueError:
                pass  # no or a malformed header: keep the proxy's address
        return self.get_response(request)


# The channel a request's writes come from, by where it arrived (vafa.core.usecase.origin).
CHANNELS = (("/api/v1/woocommerce/", "woocommerce"), ("/api/", "api"), ("/panel/", "panel"), ("/till/", "till"),
            ("/m/", "portal"), ("/join/", "portal"), ("/admin/", "admin"))


class WriteOriginMiddleware:
    """Every write a request makes is audited as coming from its channel and request line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        with origin(channel_of(path), f"{request.method} {path}"):
            return self.get_response(request)


def channel_of(path: str) -> str:
    for prefix, name in CHANNELS:
        if path.startswith(prefix):
            return name
    return "web"



# --- the screens' own middleware, not run for an API call with a key ------------------------------------------


def key_only(request) -> bool:
    """An API call with a key and no cookie: a till or a shop with its bearer key has no session to load, no form
    to protect and no signed-in user, and the middleware for those cost a fifth of a balance read's CPU (issue
    11). An API call with a cookie (staff trying the API from its docs page, signed in) gets them all."""
    meta = request.META
    return request.path_info.startswith("/api/") and "HTTP_AUTHORIZATION" in meta and not meta.get("HTTP_COOKIE")


class ScreensOnly:
    """Django's middleware of that name, run for every request but a key_only one."""

    def __call__(self, request):
        if key_only(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(ScreensOnly, sessions.SessionMiddleware):
    pass


class CsrfViewMiddleware(ScreensOnly, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if key_only(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(ScreensOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(ScreensOnly, messages.MessageMiddleware):
    pass


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's, without looking for a language in the path where no URL has one (no i18n_patterns, as here): it
    looked twice a request (a regex and a failed language look-up), to use the answer only with such URLs. The
    same language activated, the same headers (issue 11)."""

    def process_request(self, request):
        if is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]:
            return super().process_request(request)
        meta = request.META
        # Django's choice depends on the language cookie and Accept-Language alone: a till sends the same pair
        # every time, so the choice is made once per pair (issue 11, api-glue)
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) if "HTTP_COOKIE" in meta else None
        translation.activate(_language_for(cookie, meta.get("HTTP_ACCEPT_LANGUAGE", "")))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]:
            return super().process_response(request, response)
        headers = response.headers
        if "Vary" in headers:
            patch_vary_headers(response, ("Accept-Language",))
        else:
            headers["Vary"] = "Accept-Language"  # what patch_vary_headers makes of no Vary
        headers.setdefault("Content-Language", translation.get_language())
        return response


class _LanguageAsked:
    """A request as get_language_from_request reads it (without a path look-up): the cookie, the header."""

    __slots__ = ("COOKIES", "META")

    def __init__(self, cookie: str | None, accept: str) -> None:
        self.COOKIES = {} if cookie is None else {settings.LANGUAGE_COOKIE_NAME: cookie}
        self.META = {"HTTP_ACCEPT_LANGUAGE": accept}


@receiver(setting_changed)
def _forget_languages(*, setting, **kwargs):
    if setting in ("LANGUAGES", "LANGUAGE_CODE", "LANGUAGE_COOKIE_NAME", "LOCALE_PATHS"):  # as Django's own caches
        _language_for.cache_clear()


@functools.lru_cache(maxsize=1000)
def _language_for(cookie: str | None, accept: str) -> str:
    return translation.get_language_from_request(_LanguageAsked(cookie, accept))
