import pytest
from django.core.cache import cache

# the API tests' bearer-key clients, shared with tests/api
from tests.api.conftest import (  # noqa: F401
    admin,
    admin_key,
    api_client,
    cashier_t1,
    other_key,
    outsider,
    read_key,
    reader,
    t1_key,
    write_key,
    writer,
)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The guess counters live in the cache: every test starts without any."""
    cache.clear()
    yield
    cache.clear()
