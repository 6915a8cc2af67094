# the API tests' clients and shared fixtures, from tests/api
import pytest
from tests.api.conftest import (  # noqa: F401
    admin,
    admin_key,
    api_client,
    card,
    cashier_t1,
    operator_client,
    other_card,
    other_key,
    other_member,
    other_purchase,
    outsider,
    purchase,
    read_key,
    reader,
    t1_key,
    v2_purchase,
    write_key,
    writer,
)

# the API tests' bearer-key clients, shared with tests/api


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
