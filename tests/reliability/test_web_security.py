"""Web security over the HTML side, walked from the URL patterns: CSRF on every form, cookie flags, session
fixation, login throttling, Argon2, API keys stored as hashes, security headers; and the audit trail: every
ledger entry made through the API says who and from where."""

import hashlib
import importlib
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from vafa.access.models import ApiKey
from vafa.access.services import create_api_key, create_operator
from vafa.ledger.models import Entry

from .test_tenant_isolation import html_routes

PASSWORD = "a long password 123"


def form_pages(business) -> list[str]:
    """Every non-API page (walked from the URL patterns) whose GET shows a POST form, plus the admin's login;
    logout takes only a POST."""
    found = ["/admin/login/", "/logout/"]
    for route in html_routes():
        if route.startswith("admin/"):
            continue
        url = "/" + route.replace("<slug:slug>", business.slug)
        if re.search(r"<form[^>]*method=[\"']?post", Client().get(url).content.decode(), re.I):
            found.append(url)
    return found


def test_every_form_refuses_a_post_without_csrf_token(business):
    pages = form_pages(business)
    assert {"/login/", f"/join/{business.slug}/"} <= set(pages)
    for url in pages:
        response = Client(enforce_csrf_checks=True).post(url, {"username": "x", "password": "y",
                                                               "mobile": "09121112233"})
        assert response.status_code == 403, url


def test_the_forms_carry_a_csrf_token(business):
    for url in ("/login/", "/join/cafe/", "/admin/login/"):
        assert b"csrfmiddlewaretoken" in Client().get(url).content, url


def test_login_rotates_the_session_and_sets_safe_cookies(business):
    create_operator(business, username="owner", password=PASSWORD, role="owner")
    client = Client()
    client.get("/login/")
    client.session.save()
    before = client.session.session_key
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value != before  # no fixation
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_cookies_are_secure_when_asked(monkeypatch):
    monkeypatch.setenv("VAFA_SECURE_COOKIES", "1")
    import vafa.settings as module

    fresh = importlib.reload(module)
    try:
        assert fresh.SESSION_COOKIE_SECURE and fresh.CSRF_COOKIE_SECURE and fresh.SESSION_COOKIE_HTTPONLY
    finally:
        monkeypatch.delenv("VAFA_SECURE_COOKIES")
        importlib.reload(module)


def test_login_is_throttled_after_five_failures(business):
    create_operator(business, username="owner", password=PASSWORD, role="owner")
    client = Client()
    for _ in range(5):
        assert client.post("/login/", {"username": "owner", "password": "wrong"}).status_code == 200
    client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # even the right password is refused now


def test_passwords_are_argon2_and_keys_are_hashes(business):
    operator = create_operator(business, username="owner", password=PASSWORD, role="owner")
    assert get_user_model().objects.get(pk=operator.user_id).password.startswith("argon2$")
    row, key = create_api_key(business, scope="read")
    stored = {f.name: getattr(row, f.name) for f in ApiKey._meta.fields}
    assert key not in [str(v) for v in stored.values()]
    assert hashlib.sha256(key.encode()).hexdigest() in [str(v) for v in stored.values()]


SECURITY_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin"}


def test_security_headers_on_html_and_api(business, read_key):
    for response in (Client().get("/login/"), Client().get("/join/cafe/"),
                     Client(HTTP_AUTHORIZATION=f"Bearer {read_key}").get("/api/v1/business"),
                     Client().get("/api/v1/business")):
        for header, value in SECURITY_HEADERS.items():
            assert response.get(header) == value, (response.request["PATH_INFO"], header)


def test_every_entry_made_through_the_api_says_who_and_from_where(admin, writer, member, business):
    before = set(Entry.objects.values_list("pk", flat=True))
    assert writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "A-1",
                                      "total": 500_000}).status_code == 201
    assert admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 7,
                                       "reason": "goodwill"}).status_code == 201
    made = Entry.objects.exclude(pk__in=before)
    assert made.count() >= 2
    for entry in made:
        assert entry.actor_kind == "api_key" and entry.actor_id and entry.actor_label, entry.pk
        assert entry.actor_ip == "127.0.0.1", entry.pk
