"""The middleware as settings.MIDDLEWARE has it (the locale without path look-ups) answers what Django's own
LocaleMiddleware answered: the same status, the same headers in the same order and the same bytes, for the hot API
reads and writes, their refusals (401, 403, 404, 422) and their languages, and for a page (issue 11;
tests/members/test_balance_answer.py for the balance's rendering). The screens' middleware already stood aside
for a key's call before (tests/core/test_middleware.py): without a session, a refused key's answer does not vary
by Cookie, as Django's own classes' did."""

import pytest
from django.test import Client, override_settings
from tests.api.conftest import API, bearer_client
from tests.api.helpers import purchase_body

from vafa.access.services import create_api_key

DJANGO_OWN = {"vafa.core.middleware.LocaleMiddleware": "django.middleware.locale.LocaleMiddleware"}
ITEMS = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000}]


def answer(response) -> tuple:
    return response.status_code, list(response.items()), response.content


def both(send) -> tuple[tuple, tuple]:
    """send(client_for) → a response, with the stack as configured and with Django's own classes."""
    ours = answer(send(bearer_client))
    from django.conf import settings

    with override_settings(MIDDLEWARE=[DJANGO_OWN.get(path, path) for path in settings.MIDDLEWARE]):
        theirs = answer(send(bearer_client))
    return ours, theirs


@pytest.mark.parametrize("language", [None, "en", "fa", "de"])
def test_api_answers_are_those_of_djangos_own_locale_middleware(business, member, language):
    _, key = create_api_key(business, scope="write", name="lean")
    _, reader = create_api_key(business, scope="read", name="reader")
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    admin = create_api_key(business, scope="admin", name="admin")[1]
    bearer_client(admin).post(f"{API}/vouchers", {"name": "ten", "kind": "percent", "percent": 10, "code": "TEN"},
                              content_type="application/json")
    validate = {"code": "TEN", "member_id": member.pk, "branch": "t1", "items": ITEMS}
    requests = [
        lambda c: c(key).get(f"{API}/members/{member.pk}/balance", **headers),
        lambda c: c(key).get(f"{API}/members/{member.pk}/balance", {"expiring_days": 0}, **headers),  # 422
        lambda c: c(key).get(f"{API}/members/999999999/balance", **headers),  # 404
        lambda c: c("not-a-key").get(f"{API}/members/{member.pk}/balance", **headers),  # 401
        lambda c: Client().get(f"{API}/members/{member.pk}/balance", **headers),  # 401, no key at all
        lambda c: c(key).get(f"{API}/no/such/path", **headers),  # 404
        lambda c: c(key).post(f"{API}/vouchers/validate", validate, content_type="application/json", **headers),
        lambda c: c(key).post(f"{API}/vouchers/validate", {**validate, "code": "NOPE"},
                              content_type="application/json", **headers),
        lambda c: c(key).post(f"{API}/vouchers/validate", {"code": ""}, content_type="application/json", **headers),
        lambda c: c(key).post(f"{API}/purchases", purchase_body(member, "D-1", 300_000, dry_run=True),
                              content_type="application/json", **headers),
        lambda c: c(reader).post(f"{API}/purchases", purchase_body(member, "D-2", 300_000),
                                 content_type="application/json", **headers),  # 403: a read key
        lambda c: c(key).get(f"{API}/openapi.json", **headers),
    ]
    for send in requests:
        ours, theirs = both(send)
        assert ours == theirs


def test_a_purchase_answers_as_under_djangos_own_locale_middleware(business, member):
    """Two purchases (each its own receipt, so the ids differ): everything else the same."""
    _, key = create_api_key(business, scope="write", name="lean")
    receipts = iter(("P-1", "P-2"))
    ours, theirs = both(lambda c: c(key).post(f"{API}/purchases", purchase_body(member, next(receipts), 300_000),
                                              content_type="application/json"))
    assert ours[0] == theirs[0] == 201 and ours[1] == theirs[1]
    first, second = ours[2].decode(), theirs[2].decode()
    assert len(first) == len(second) and first.replace("P-1", "P-2") != first


def test_a_page_answers_as_under_djangos_own_locale_middleware(business):
    """The login page's headers (its CSRF cookie aside), in Persian and in English."""
    def headers(response):
        return [(name, value) for name, value in response.items() if name != "Set-Cookie"]

    from django.conf import settings

    for language in ("en", "fa"):
        ours = Client().get("/login/", HTTP_ACCEPT_LANGUAGE=language)
        with override_settings(MIDDLEWARE=[DJANGO_OWN.get(path, path) for path in settings.MIDDLEWARE]):
            theirs = Client().get("/login/", HTTP_ACCEPT_LANGUAGE=language)
        assert ours.status_code == theirs.status_code == 200
        assert headers(ours) == headers(theirs) and ours["Content-Language"] == language


@pytest.mark.parametrize("cookie", [None, "en", "fa", "de", ""])
@pytest.mark.parametrize("accept", ["", "en", "fa", "de", "en-GB,en;q=0.9", "de;q=0.9, fa;q=0.8", "*", "x" * 300])
def test_the_language_kept_per_cookie_and_header_is_djangos_choice(rf, cookie, accept):
    """core.middleware keeps the language chosen per (cookie, Accept-Language); Django's choice for the request."""
    from django.conf import settings
    from django.utils import translation

    from vafa.core.middleware import _language_for

    request = rf.get("/", HTTP_ACCEPT_LANGUAGE=accept)
    if cookie is not None:
        request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = cookie
    assert _language_for(cookie, accept) == translation.get_language_from_request(request)


def test_a_page_with_a_language_cookie_answers_as_under_djangos_own_locale_middleware(business):
    from django.conf import settings

    for language in ("en", "fa"):
        client = Client()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        ours = client.get("/login/", HTTP_ACCEPT_LANGUAGE="de")
        with override_settings(MIDDLEWARE=[DJANGO_OWN.get(path, path) for path in settings.MIDDLEWARE]):
            theirs = client.get("/login/", HTTP_ACCEPT_LANGUAGE="de")
        assert ours["Content-Language"] == theirs["Content-Language"] == language
        assert ours["Vary"] == theirs["Vary"]
