import pytest

from vafa.access.services import create_operator
from vafa.tenancy.models import Branch

PASSWORD = "correct horse 42"


@pytest.fixture
def operator(business):
    """panel_client-ready operators: operator("owner"), operator("cashier", branch="t1") …"""

    def make(role: str, *, branch: str | None = None, username: str | None = None):
        branches = [Branch.objects.get(business=business, code=branch)] if branch else []
        return create_operator(business, username=username or f"{role}-{branch or 'all'}", password=PASSWORD,
                               role=role, branches=branches)

    return make


@pytest.fixture
def signed_in(client, operator):
    """A test client signed in as a new operator of the given role."""

    def sign_in(role: str, **kwargs):
        op = operator(role, **kwargs)
        client.force_login(op.user)
        return client

    return sign_in


@pytest.fixture
def purchase_at(business):
    from vafa.purchases.services import record_purchase

    counter = iter(range(1, 10_000))
    return lambda member, branch="t1", total=250_000: record_purchase(
        business, member_id=member.pk, branch_code=branch, receipt=f"R{next(counter)}", total=total)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The panel keeps things in the cache by business id (a backtest, an upload); test databases reuse ids."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
