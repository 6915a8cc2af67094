"""The PostgreSQL backend's health check (vafa.core.postgresql): no round trip while the server has said
nothing, and a connection the server ended is found dead and replaced before the request's first statement."""

import time

import psycopg
import pytest
from django.db import connection, connections

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend")]


def request_starts() -> None:
    """What Django does for a reused connection when a request starts and sends its first statement."""
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_silent_connection_is_reused_without_a_round_trip(monkeypatch):
    connection.ensure_connection()
    kept = connection.connection
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: pytest.fail("a round trip"))
    request_starts()
    assert connection.connection is kept and connection.health_check_done


def test_a_connection_the_server_ended_is_replaced_before_the_first_statement():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context",
                                                                          "prepare_threshold")},
                         autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    time.sleep(0.2)  # the server's goodbye reaches the socket
    request_starts()
    with connection.cursor() as cursor:  # a new connection, not a failed request
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
