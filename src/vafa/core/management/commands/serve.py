"""`vafa serve`: migrate, then serve Vafa with granian (production: HTTP and the connections in Rust, the
application on a pool of Python threads per worker process); `vafa serve --dev` runs Django's autoreloading
development server instead. Static files are served by WhiteNoise inside the application in both cases.
docs/decisions.md says why granian (it replaced gunicorn's gthread workers) and WhiteNoise; README shows a
buffering proxy (nginx) for installs that face the internet."""

import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

BACKLOG = 2048  # connections the kernel queues before the workers accept them: 50 clients at once are no reset
THREADS = 8  # per worker process: the application's threads (a purchase waits on the database meanwhile)
GRACE_SECONDS = 20  # a stopping worker's requests may finish for this long
THREAD_IDLE_MAX = 600  # granian's longest idle time for an application thread, in seconds


def default_workers() -> int:
    return max(2, min(os.cpu_count() or 2, 8))


class Command(BaseCommand):
    help = ("Migrate the database and serve Vafa over HTTP with granian (worker processes of application "
            "threads); --dev for Django's autoreloading development server.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None,
                            help=f"worker processes (default: the CPU count, 2 to 8; now {default_workers()})")
        parser.add_argument("--threads", type=int, default=THREADS,
                            help=f"threads per worker, each serving one request at a time (default {THREADS})")
        parser.add_argument("--dev", action="store_true",
                            help="Django's development server, reloading on code changes (never in production)")

    def handle(self, *args, host, port, workers, threads, dev, **options):
        if workers is not None and workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1")
        call_command("migrate", interactive=False, verbosity=0)
        if dev:
            call_command("runserver", f"{host}:{port}", use_reloader=True, use_threading=True)
            return
        _granian(host, port, workers or default_workers(), threads)


def _die_with_the_master() -> None:
    """A worker is killed when its master dies, even by SIGKILL, so no orphan keeps the port (Linux)."""
    try:
        # Linux only, and only in a forked worker.
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: stop the workers with the master (its SIGTERM stops them)


def _worker_application(target: str):
    """The application, loaded in each worker process (granian's target loader), which first asks to die with
    its master."""
    _die_with_the_master()
    return _loaded_application()


def _loaded_application():
    """The application and its URLs loaded, then everything loaded so far frozen out of the garbage collector's
    reach: a full collection would otherwise walk all of Django and Vafa, ~140 ms with every thread of the worker
    stopped, a purchase's p99 doubled (docs/benchmarks.md, gc-freeze). What is frozen is never collected; it is
    the code and settings the worker keeps for its whole life anyway."""
    from vafa.wsgi import application  # in the worker, once the request to die with the master is made

    import_module(settings.ROOT_URLCONF)  # the API's and screens' modules imported now, not at a first request
    gc.freeze()
    return whole_answers(application)


def whole_answers(application):
    """The application with each answer held in memory (all but files and streams) handed to granian as a list of
    one bytes chunk, closed first (Django's request_finished). granian sends such an answer from Rust, its head
    and body in one write; Django's response object itself would be iterated from Rust instead, the GIL let go
    and taken back for each chunk (a thread switch under load) and the body often written after the head
    (docs/benchmarks.md, serve-glue)."""

    def whole(environ, start_response):
        response = application(environ, start_response)
        if getattr(response, "streaming", True):
            return response
        try:
            return [response.content]
        finally:
            response.close()

    return whole


def _granian(host: str, port: int, workers: int, threads: int) -> None:
    # granian is needed by `vafa serve` alone, not by --dev or the tests
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    connections.close_all()  # the workers fork from this process: none may inherit migrate's connection
    # A connection waits for its request in the Rust runtime, not on a Python thread, so idle or half-open
    # connections starve no one; a request's headers must arrive within 30 s (granian's default) and fit its
    # HTTP/1 buffer (400 kB, at most 100 headers). A body is read only as the application reads it: a request
    # refused by its Content-Length (vafa.api.middleware) is answered before its body is sent.
    # An application thread idle for granian's default 30 s ends, and the one started for the next burst opens a
    # new database connection (each thread has its own) while the old one waits for the garbage collector: a
    # thread is kept as long as Django keeps its connection, within granian's 5 to 600 s (docs/decisions.md).
    age = connections["default"].settings_dict.get("CONN_MAX_AGE", 0)
    idle = THREAD_IDLE_MAX if age is None else min(THREAD_IDLE_MAX, max(5, age))
    Server("vafa.wsgi:application", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
           blocking_threads=threads, blocking_threads_idle_timeout=idle, backlog=BACKLOG, http=HTTPModes.http1,
           websockets=False, log_level=LogLevels.warning, respawn_failed_workers=True,
           workers_kill_timeout=GRACE_SECONDS).serve(target_loader=_worker_application)
