"""Site-wide protections (issue 10): a Content-Security-Policy on every HTML page that the pages live with, the
client's address behind a proxy, production settings from the environment, and bodies refused unread."""

import importlib
import re

import pytest
from django.test import Client
from tests.reliability.test_nasty_values import CountingStream

PAGES = ["/login/", "/join/cafe/", "/admin/login/", "/api/v1/docs"]


@pytest.mark.parametrize("url", PAGES)
def test_every_html_page_has_a_script_policy_it_keeps(business, url):
    response = Client().get(url)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    html = response.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):  # every script is a file of ours, or inert JSON data
        assert "src=" in tag or 'type="application/json"' in tag, tag
        assert "src=\"http" not in tag and "src=\"//" not in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler would be blocked"
    assert "javascript:" not in html


def test_the_admin_inside_works_under_the_policy(business):
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="a-long-password-1"))
    for url in ("/admin/", "/admin/members/member/"):
        response = client.get(url)
        assert response.status_code == 200 and "Content-Security-Policy" in response, url
        for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)


def test_api_answers_carry_no_html_policy(business):
    assert "Content-Security-Policy" not in Client().get("/api/v1/openapi.json")


def test_behind_a_proxy_the_client_address_is_the_one_the_proxy_saw(business, settings):
    from vafa.access.models import LoginAttempt

    settings.BEHIND_PROXY = True
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    proxy.post("/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    proxy.post("/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="not an address")
    settings.BEHIND_PROXY = False  # without a proxy the header is the client's say-so: ignored
    proxy.post("/login/", {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert list(LoginAttempt.objects.order_by("pk").values_list("ip", flat=True)) == [
        "198.51.100.7", "10.0.0.1", "10.0.0.1"]


@pytest.fixture
def reload_settings(monkeypatch):
    import vafa.settings as module

    def load(**env):
        for name in ("VAFA_HTTPS", "VAFA_BEHIND_PROXY", "VAFA_TRUSTED_ORIGINS", "VAFA_SECURE_COOKIES"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(module)

    yield load
    monkeypatch.undo()
    importlib.reload(module)


def test_production_settings_default_to_safe_and_follow_the_environment(reload_settings):
    plain = reload_settings()
    assert not plain.SESSION_COOKIE_SECURE and not plain.SECURE_SSL_REDIRECT and plain.SECURE_HSTS_SECONDS == 0
    assert plain.SECURE_PROXY_SSL_HEADER is None and plain.CSRF_TRUSTED_ORIGINS == []
    assert plain.SESSION_COOKIE_AGE == 12 * 3600
    https = reload_settings(VAFA_HTTPS="1", VAFA_BEHIND_PROXY="1",
                            VAFA_TRUSTED_ORIGINS="https://club.example, https://www.club.example")
    assert https.SESSION_COOKIE_SECURE and https.CSRF_COOKIE_SECURE and https.SECURE_SSL_REDIRECT
    assert https.SECURE_HSTS_SECONDS == 31_536_000
    assert https.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https") and https.BEHIND_PROXY
    assert https.CSRF_TRUSTED_ORIGINS == ["https://club.example", "https://www.club.example"]


@pytest.mark.parametrize("url", ["/join/cafe/", "/login/", "/admin/login/", "/api/v1/members"])
def test_a_200_mb_body_is_refused_with_413_before_it_is_read(business, url):
    stream = CountingStream(200 * 1024 * 1024)
    response = Client().generic("POST", url, b"", content_type="multipart/form-data; boundary=x",
                                CONTENT_LENGTH=str(stream.size), **{"wsgi.input": stream})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert stream.read_bytes == 0


def test_an_api_call_with_a_key_skips_the_screens_middleware_and_keeps_the_headers(business, monkeypatch):
    """Issue 11: no session, CSRF, user or messages for a key's call; the security headers all the same. With a
    cookie (staff signed in, trying the API), the session is there and its login is taken."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from vafa.access.services import create_api_key, make_operator

    _, key = create_api_key(business, scope="read")
    loaded = []
    monkeypatch.setattr(SessionStore, "load", lambda self: loaded.append(1) or {})
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/program")
    assert response.status_code == 200 and not loaded
    assert not hasattr(response.wsgi_request, "user") and not hasattr(response.wsgi_request, "session")
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin" and response["Cross-Origin-Opener-Policy"] == "same-origin"
    monkeypatch.undo()
    staff = Client()
    user = get_user_model().objects.create_user("owner", password="a-long-password-1")
    make_operator(business, user, role="owner")
    staff.force_login(user)
    response = staff.get("/api/v1/program", HTTP_AUTHORIZATION="Bearer not-a-key")
    assert response.status_code == 200 and response.wsgi_request.user == user
