"""Fixtures for the REST API tests: bearer-key clients per scope, a branch-bound key, another business's key,
and small helpers to post JSON and to check problem details."""

import json

import pytest
from django.test import Client

from vafa.access.services import create_api_key
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
