import types

import pytest


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch):
    """The guess counters are fixed windows in the database (rolled back after each test): a still clock keeps
    a test from straddling two windows."""
    monkeypatch.setattr("vafa.core.throttle.time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))
