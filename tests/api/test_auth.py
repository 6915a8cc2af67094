"""Authentication never answers a 5xx, whatever the Authorization header or the body's nesting; the rate limit
is counted in the database, so every worker process shares it (issue 10)."""

import types

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vafa.api import auth

from .conftest import API, assert_problem

STILL = types.SimpleNamespace(time=lambda: 1_800_000_000.0)  # one fixed-window counter for the whole test


def test_the_rate_limit_is_shared_by_worker_processes(monkeypatch, reader):
    monkeypatch.setattr("vafa.core.throttle.time", STILL)
    monkeypatch.setattr(auth, "RATE_LIMIT_PER_MINUTE", 3)
    for _ in range(3):
        assert reader.get("/business").status_code == 200
        cache.clear()  # what a second worker process would see: nothing held in this one's memory
    assert_problem(reader.get("/business"), 429, "rate_limited")


def test_leased_hits_never_let_a_key_past_its_limit_across_workers(monkeypatch, business):
    """Each worker takes hits from the shared count in blocks; two workers taking turns serve exactly the limit
    between them, and each refuses without a statement once the window is used up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr("vafa.core.throttle.time", STILL)
    monkeypatch.setattr(auth, "RATE_LIMIT_PER_MINUTE", 1_000)
    assert auth.lease_size(1_000) == 5
    workers: list[dict] = [{}, {}]  # each worker process's own leases
    served = refused = 0
    with CaptureQueriesContext(connection) as statements:
        for turn in range(1_100):
            monkeypatch.setattr(auth, "_leases", workers[turn % 2])
            try:
                auth._count_request(business.pk, "7")
                served += 1
            except auth.RateLimited:
                refused += 1
    assert (served, refused) == (1_000, 100)
    assert len(statements.captured_queries) == 1_000 // 5 + 2  # a lease per block, one each to learn it is spent


@pytest.mark.parametrize("key", ["vk_²_" + "a" * 43, "vk_١٢_" + "a" * 43, "vk_" + "9" * 40 + "_" + "a" * 43,
                                 "vk_1_" + "a\x00" * 20, "vk_1_" + "ا" * 43])
def test_malformed_keys_are_401(api_client, business, key):
    assert_problem(api_client(key).get("/business"), 401, "unauthorized")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.one_of(
    st.text(max_size=200),
    st.builds(lambda middle, secret: f"Bearer vk_{middle}_{secret}", st.text(max_size=30), st.text(max_size=60)),
    st.builds(lambda number: f"Bearer vk_{number}_" + "a" * 43, st.integers(min_value=-10**40, max_value=10**40)),
))
def test_no_authorization_header_gets_a_5xx(business, header):
    try:
        client = Client(HTTP_AUTHORIZATION=header)
    except ValueError:  # a header no HTTP client can send
        return
    assert client.get(f"{API}/business").status_code in (200, 401)


def _nested(depth: int) -> str:
    return '{"member": ' + "[" * depth + "]" * depth + "}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.one_of(st.integers(min_value=1, max_value=1200), st.sampled_from([450, 600, 999, 1000, 5000])))
def test_no_nesting_depth_gets_a_5xx(writer, depth):
    for path in ("/members", "/purchases", "/program/simulate"):
        response = writer.post(path, _nested(depth))
        # past Python's own limit the JSON parser gives up: a 400, "not JSON"
        assert response.status_code == (422 if depth < 990 else response.status_code), (path, depth)
        assert response.status_code in (400, 422), (path, depth, response.status_code)


def test_a_deep_body_is_422_naming_the_nesting(writer):
    body = assert_problem(writer.post("/members", _nested(500), headers={"Accept-Language": "en"}), 422,
                          "invalid_input")
    assert body["errors"] == [{"field": "payload", "message": "is nested too deeply", "code": "too_deeply_nested"}]


def test_a_deep_program_document_is_422(admin):
    assert admin.put("/program", '{"rules": ' + "[" * 900 + "]" * 900 + "}").status_code == 422


def test_nesting_is_counted_outside_strings_without_parsing():
    from vafa.api.middleware import nesting_depth

    assert nesting_depth(b'{"a": [1, {"b": "[[[\\"{{"}]}') == 3
    assert nesting_depth(b"[" * 5000 + b"]" * 5000) == 5000
    assert nesting_depth(b'"just a string"') == 0
