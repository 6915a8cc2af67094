"""The purchases tests check the activity counters after each test that wrote."""

import pytest


@pytest.fixture(autouse=True)
def _counters_agree(request):
    """After every purchases test that wrote to the database: the activity counters equal the rows they sum."""
    used = sorted({"db", "transactional_db"} & set(request.fixturenames))
    if used:
        request.getfixturevalue(used[0])  # set up before this fixture, so torn down after its check
    yield
    if used:
        from vafa.purchases.counters import check_counters

        assert check_counters() == []
