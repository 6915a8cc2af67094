# the API tests' bearer-key clients, shared with tests/api
from tests.api.conftest import (  # noqa: F401
    admin,
    admin_key,
    api_client,
    cashier_t1,
    read_key,
    reader,
    t1_key,
    write_key,
    writer,
)
