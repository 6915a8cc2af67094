import types

import pytest

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
def _still_clock(monkeypatch):
    """The guess counters are fixed windows in the database (rolled back after each test): a still clock keeps
    a test from straddling two windows."""
    monkeypatch.setattr("vafa.core.throttle.time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))
