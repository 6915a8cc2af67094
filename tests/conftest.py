"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when VAFA_DATABASE_URL is set
(scripts/test does both)."""

import datetime as dt
import os

import pytest
from django.db import connection

from vafa.program.services import activate_program
from vafa.tenancy.services import create_branch, create_business

ON_POSTGRES = bool(os.environ.get("VAFA_DATABASE_URL", "").startswith("postgres"))
postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (scripts/test runs it)")

# A program for tests: simple points with a 14-day return window, cashback, tiers, a loyalty table.
PROGRAM = {
    "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 0},
                                "wallet": {"expiry_days": 180}}},
    "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10}],
    "tiers": {"basis": "spend", "window_days": 365, "levels": [
        {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
        {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 5_000_000, "multiplier": 2},
        {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": 20_000_000, "multiplier": 3,
         "discount_percent": 5},
    ]},
    "loyalty_table": {"rates": [{"points": 100, "value": 10_000}]},
}


def pytest_configure(config):
    """One cache directory per test process: a test that clears the cache must not clear another's (xdist)."""
    from django.conf import settings

    cache = settings.CACHES["default"]
    cache["LOCATION"] = os.path.join(cache["LOCATION"], os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.fixture(autouse=True)
def _forget_business_accounts():
    """The ledger remembers business account ids per process, program.cache the program and branches,
    tenancy.cache the business rows, the API the keys' principals and rate-limit leases; a test database's rows
    do not outlive the test."""
    from vafa.access.services import forget_keys
    from vafa.api.auth import forget_leases
    from vafa.ledger import services
    from vafa.program import cache
    from vafa.tenancy import cache as business_cache

    def forget() -> None:
        services._business_accounts.clear()
        cache.forget()
        business_cache.forget()
        forget_keys()
        forget_leases()

    forget()
    yield
    forget()


@pytest.fixture
def business(db):
    business = create_business(name="کافه وفا", slug="cafe")
    create_branch(business, code="t1", name="تجریش")
    create_branch(business, code="v2", name="ونک")
    activate_program(business, PROGRAM)
    return business


@pytest.fixture
def other_business(db):
    other = create_business(name="Other Shop", slug="other", currency="USD", language="en", calendar="gregorian",
                            timezone="Europe/London")
    create_branch(other, code="main", name="Main")
    return other


@pytest.fixture
def program(business):
    """Activate another program document on the test business: program({...})."""
    return lambda document: activate_program(business, document)


def set_up_member(business, **fields):
    """A member for a test's setting: signed up through the use case, whose audit row is the setting's, not the
    test's (the audit tests count the rows their own action writes)."""
    from vafa.access.models import AuditEvent
    from vafa.members.services import sign_up

    member = sign_up(business, **fields)
    AuditEvent.objects.filter(business=business, operation="member.sign_up", object_id=str(member.pk)).delete()
    return member


@pytest.fixture
def member(business):
    return set_up_member(business, mobile="09121234567", first_name="علی", last_name="رضایی")


@pytest.fixture
def make_member(business):
    counter = iter(range(1000, 10_000))
    return lambda **kw: set_up_member(business, mobile=kw.pop("mobile", f"0912000{next(counter):04d}"), **kw)


@pytest.fixture
def now():
    return dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# The API tests' bearer-key clients and shared objects, for every app's tests/<app>/test_api.py.
from tests.api.conftest import *  # noqa: E402, F401, F403
