"""Watch the transactions a piece of code commits: how many, how long each held the database, and what a query
answered right after each commit."""

import time
from contextlib import contextmanager

from django.db import connection


@contextmanager
def watched_transactions(after_commit=lambda: None):
    """Yields a list that fills with (seconds the transaction was open, after_commit()) per commit. after_commit
    runs once the connection is back in autocommit, outside any transaction."""
    seen: list[tuple[float, object]] = []
    opened: list[float] = []
    committed: list[float] = []
    set_autocommit, commit = connection.set_autocommit, connection.commit

    def watched_set_autocommit(autocommit, *args, **kwargs):
        result = set_autocommit(autocommit, *args, **kwargs)
        if not autocommit:
            opened.append(time.perf_counter())
        elif committed:
            seen.append((committed.pop(), after_commit()))
        return result

    def watched_commit():
        commit()
        committed.append(time.perf_counter() - opened.pop() if opened else 0.0)

    connection.set_autocommit, connection.commit = watched_set_autocommit, watched_commit
    try:
        yield seen
    finally:
        del connection.set_autocommit, connection.commit
