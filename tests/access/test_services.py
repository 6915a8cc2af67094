import hashlib

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from vafa.access.models import ApiKey, AuditEvent, LoginAttempt
from vafa.access.services import create_api_key, create_operator, principal_for_key


def test_api_key_is_stored_only_as_a_hash(business):
    row, key = create_api_key(business, scope="read")
    stored = ApiKey.objects.get(pk=row.pk)
    assert key.startswith(f"vk_{business.pk}_")
    assert key not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert principal_for_key(key).scope == "read"


@pytest.mark.parametrize("bad", ["", "vk_", "vk_1_short", "nonsense", "vk_x_aaaaaaaaaaaaaaaa"])
def test_malformed_keys_are_refused(business, bad):
    assert principal_for_key(bad) is None


def test_a_key_with_one_character_changed_is_refused(business):
    _, key = create_api_key(business)
    assert principal_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None


def test_revoked_key_is_refused(business):
    row, key = create_api_key(business)
    from django.utils import timezone

    ApiKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert principal_for_key(key) is None


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


def test_a_key_revoked_in_another_process_is_refused_within_the_cache_bound(business, monkeypatch):
    """This process keeps a valid key's principal for KEY_CACHE_SECONDS; a revocation written by another process
    (here: straight to the table, as `vafa apikey revoke` or another worker does) is refused once it runs out."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from vafa.access import services

    clock = Clock()
    monkeypatch.setattr(services, "time", clock)
    row, key = create_api_key(business)
    assert principal_for_key(key) is not None
    with CaptureQueriesContext(connection) as kept:
        assert principal_for_key(key) is not None
    assert kept.captured_queries == []  # a kept key costs no statement
    ApiKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    clock.now += services.KEY_CACHE_SECONDS - 1
    assert principal_for_key(key) is not None  # still within the stated bound (docs/decisions.md)
    clock.now += 1
    assert principal_for_key(key) is None
    clock.now += services.KEY_CACHE_SECONDS
    assert principal_for_key(key) is None  # a refused key is never kept


def test_a_key_revoked_in_this_process_is_refused_at_once(business):
    from vafa.access.services import revoke_api_key

    row, key = create_api_key(business)
    assert principal_for_key(key) is not None
    revoke_api_key(business, row.pk)
    assert principal_for_key(key) is None


def test_branch_key_is_bound_to_its_branch(business):
    branch = business.branches.get(code="t1")
    _, key = create_api_key(business, branch=branch)
    principal = principal_for_key(key)
    assert principal.branch_ids == frozenset({branch.pk})
    assert principal.may_use_branch(branch.pk)
    assert not principal.may_use_branch(business.branches.get(code="v2").pk)


def test_passwords_are_hashed_with_argon2(business):
    operator = create_operator(business, username="sara", password="a-long-password-1", role="manager")
    assert operator.user.password.startswith("argon2")


def test_login_is_throttled_after_five_failures(business):
    create_operator(business, username="reza", password="correct-horse-1", role="owner")
    for _ in range(5):
        assert authenticate(username="reza", password="wrong") is None
    assert LoginAttempt.objects.filter(username="reza", success=False).count() == 5
    # Even the right password is refused while the username is locked.
    assert authenticate(username="reza", password="correct-horse-1") is None


def test_login_page_sets_a_session_and_rotates_it(business):
    create_operator(business, username="mina", password="correct-horse-2", role="cashier",
                    branches=[business.branches.get(code="t1")])
    client = Client()
    client.get("/login/")
    before = client.cookies.get("sessionid")
    response = client.post("/login/", {"username": "mina", "password": "correct-horse-2"})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after and (before is None or before.value != after)  # no session fixation
    assert client.cookies["sessionid"]["httponly"]


def test_login_form_requires_csrf(business):
    create_operator(business, username="ali", password="correct-horse-3", role="owner")
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "ali", "password": "correct-horse-3"}).status_code == 403


def test_security_headers(business):
    response = Client().get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_api_writes_are_audited_with_who_and_where(business):
    _, key = create_api_key(business, scope="write", name="till 1")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.0.0.7")
    response = client.post("/api/v1/members", {"mobile": "09125550000"}, content_type="application/json")
    assert response.status_code == 201
    event = AuditEvent.objects.get(business=business)
    assert (event.action, event.object_type, event.object_id) == ("POST /api/v1/members", "member",
                                                                  str(response.json()["id"]))
    assert (event.actor_kind, event.actor_label, event.actor_ip) == ("api_key", "till 1", "10.0.0.7")
    _, admin_key = create_api_key(business, scope="admin")
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {admin_key}").get("/api/v1/audit?object_type=member").json()
    assert [item["actor_label"] for item in listed["items"]] == ["till 1"]


def test_nul_in_an_api_query_or_path_is_422_not_a_database_error(business):
    _, key = create_api_key(business, scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/v1/purchases?receipt=a%00b")
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "receipt"
    assert client.get("/api/v1/gift-cards/AB%00CD").status_code == 422
