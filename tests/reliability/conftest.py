"""Shared by the reliability tests: the API tests' bearer-key clients, and a census of every table."""

import pytest
from django.apps import apps
from django.core.cache import cache


def counts() -> dict[str, int]:
    """Rows per table of every Vafa model: equal before and after means nothing was written (the rate counters
    count every request, refused or not)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()
            if model.__module__.startswith("vafa.") and model._meta.label != "core.RateCounter"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and login-failure counters live in the cache: every test starts without any."""
    cache.clear()
    yield
    cache.clear()
