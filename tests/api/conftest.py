"""Fixtures for the REST API tests: bearer-key clients per scope, a branch-bound key, another business's key,
and small helpers to post JSON and to check problem details."""

import json

import pytest
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from tests.conftest import set_up_member

from vafa.access.services import create_api_key, create_operator
from vafa.members.services import CardIssue, issue_card
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Branch

API = "/api/v1"


def bearer_client(key: str, **defaults) -> Client:
    """A django.test.Client that sends `Authorization: Bearer <key>` with every request."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", **defaults)


class ApiClient:
    """A django.test.Client (bearer_client for a key) with short paths under /api/v1 and JSON bodies."""

    def __init__(self, key: str | None = None, client: Client | None = None, **defaults):
        self.key = key
        self.client = client or (bearer_client(key) if key is not None else Client())
        self.defaults = dict(defaults)

    def _headers(self, headers: dict | None) -> dict:
        extra = dict(self.defaults)
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        return extra

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(API + path, params or {}, **self._headers(headers))

    def _send(self, method: str, path: str, body, headers: dict | None):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return getattr(self.client, method)(API + path, data=data, content_type="application/json",
                                            **self._headers(headers))

    def post(self, path: str, body=None, headers: dict | None = None, idem: str | None = None):
        headers = dict(headers or {})
        if idem is not None:
            headers["Idempotency-Key"] = idem
        return self._send("post", path, {} if body is None else body, headers)

    def put(self, path: str, body=None, headers: dict | None = None):
        return self._send("put", path, body, headers)

    def patch(self, path: str, body=None, headers: dict | None = None):
        return self._send("patch", path, body, headers)

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(API + path, **self._headers(headers))


@pytest.fixture
def api_client():
    """api_client(key) → an ApiClient authenticating with that key (None: no Authorization header)."""
    return lambda key=None, **defaults: ApiClient(key, **defaults)


def _key(business, scope, branch=None):
    return create_api_key(business, scope=scope, branch=branch, name=f"test {scope}")[1]


@pytest.fixture
def read_key(business):
    return _key(business, "read")


@pytest.fixture
def write_key(business):
    return _key(business, "write")


@pytest.fixture
def admin_key(business):
    return _key(business, "admin")


@pytest.fixture
def t1_key(business):
    """A write key bound to branch t1."""
    return _key(business, "write", Branch.objects.get(business=business, code="t1"))


@pytest.fixture
def other_key(other_business):
    """An admin key of the other business (USD, branch "main")."""
    return _key(other_business, "admin")


@pytest.fixture
def reader(api_client, read_key):
    return api_client(read_key)


@pytest.fixture
def writer(api_client, write_key):
    return api_client(write_key)


@pytest.fixture
def admin(api_client, admin_key):
    return api_client(admin_key)


@pytest.fixture
def cashier_t1(api_client, t1_key):
    return api_client(t1_key)


@pytest.fixture
def outsider(api_client, other_key):
    return api_client(other_key)


def assert_problem(response, status: int, code: str | None = None, *, fields: list[str] | None = None) -> dict:
    """An RFC 9457 problem with the given status (and code, and exactly the given error fields)."""
    assert response.status_code == status, (response.status_code, response.content.decode())
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://vafa.dev/problems/")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
        assert body["type"] == "https://vafa.dev/problems/" + code.replace("_", "-")
    if fields is not None:
        assert "errors" in body, body
        assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body["errors"]
        for error in body["errors"]:
            assert set(error) >= {"field", "message"} and error["message"], error
    return body


# --- fixtures shared by the API tests of every app ---


@pytest.fixture
def card(business, member):
    return issue_card(business, CardIssue.check(member.pk, kind="magnetic")).card


@pytest.fixture
def purchase(business, member):
    """A completed purchase at t1: 1,000,000 Toman, two lines, 100 points earned."""
    result = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="P-100", total=1_000_000,
                             lines=[{"sku": "A", "name": "اسپرسو", "quantity": 2, "unit_price": 300_000},
                                    {"sku": "B", "name": "کیک", "quantity": 1, "unit_price": 400_000}])
    return Purchase.objects.get(pk=result["purchase_id"])


@pytest.fixture
def v2_purchase(business, member):
    result = record_purchase(business, member_id=member.pk, branch_code="v2", receipt="V-1", total=500_000)
    return Purchase.objects.get(pk=result["purchase_id"])


@pytest.fixture
def other_member(other_business):
    return set_up_member(other_business, mobile="09351234567", first_name="Sam")


@pytest.fixture
def other_card(other_business, other_member):
    return issue_card(other_business, CardIssue.check(other_member.pk)).card


@pytest.fixture
def other_purchase(other_business, other_member):
    result = record_purchase(other_business, member_id=other_member.pk, branch_code="main", receipt="O-1",
                             total=5_000)
    return Purchase.objects.get(pk=result["purchase_id"])


def csrf_pair() -> tuple[str, str]:
    """A CSRF cookie secret and a masked token for it, as a page that renders a form would hand out."""
    request = RequestFactory().get("/")
    token = get_token(request)
    return request.META["CSRF_COOKIE"], token


@pytest.fixture
def operator_client(business, settings):
    """operator_client(role, branches=("t1",), csrf=True) → an ApiClient signed in as a new operator, through
    a Client that enforces CSRF, sending the token unless csrf=False."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; force_login anyway
    made = iter(range(1000))

    def make(role, branches=(), csrf=True, active=True):
        operator = create_operator(business, username=f"{role}-{next(made)}", password="a-long-password-123",
                                   role=role, branches=list(Branch.objects.filter(business=business,
                                                                                  code__in=branches)))
        if not active:
            operator.active = False
            operator.save(update_fields=["active"])
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator.user)
        defaults = {}
        if csrf:
            secret, token = csrf_pair()
            client.cookies["csrftoken"] = secret
            defaults["HTTP_X_CSRFTOKEN"] = token
        return ApiClient(None, client=client, **defaults)

    return make
