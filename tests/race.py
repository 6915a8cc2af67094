"""Run one attempt in many threads at once (PostgreSQL concurrency tests): each thread waits at a barrier,
tries, and reports its outcome as text; a refusal says its reason, anything else is reported as an error."""

import threading
from collections.abc import Callable

from django.db import connection


def race(threads: int, attempt: Callable[[int], str], refused: type[Exception],
         reason: Callable[[Exception], str]) -> list[str]:
    """The sorted outcomes of attempt(0) … attempt(threads - 1) run at the same moment."""
    start = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        try:
            start.wait()
            outcome = attempt(index)
        except refused as exc:
            outcome = reason(exc)
        except Exception as exc:  # noqa: BLE001 - report any other failure in the caller's assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    workers = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(outcomes)
