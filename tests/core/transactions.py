"""Watch the transactions a piece of code commits: how many, how long each held the database, and what a query
answered right after each commit."""

import time
from contextlib import contextmanager

from django.db import connection


@contextmanager
def watched_transactions(after_commit=lambda: None):
    """Yields a list that fills with (seconds the transaction was open, after_commit()) per commit."""
    seen: list[tuple[float, object]] = []
    opened: list[float] = []
    set_autocommit, commit = connection.set_autocommit, connection.commit

    def watched_set_autocommit(autocommit, *args, **kwargs):
        if not autocommit:
            opened.append(time.perf_counter())
        return set_autocommit(autocommit, *args, **kwargs)

    def watched_commit():
        commit()
        seen.append((time.perf_counter() - opened.pop() if opened else 0.0, after_commit()))

    connection.set_autocommit, connection.commit = watched_set_autocommit, watched_commit
    try:
        yield seen
    finally:
        del connection.set_autocommit, connection.commit
