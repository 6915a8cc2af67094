"""`vafa serve`: migrate, then serve Vafa with gunicorn (production); `vafa serve --dev` runs Django's
autoreloading development server instead. Static files are served by WhiteNoise inside the application in both
cases. docs/decisions.md says why gthread workers and WhiteNoise; README shows a buffering proxy (nginx) for
installs that face the internet."""

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

BACKLOG = 2048  # connections the kernel queues while every thread is busy: 50 clients at once are no reset
THREADS = 8  # per worker process


def default_workers() -> int:
    return max(2, min(os.cpu_count() or 2, 8))


class Command(BaseCommand):
    help = ("Migrate the database and serve Vafa over HTTP with gunicorn (gthread workers); --dev for Django's "
            "autoreloading development server.")

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
        _gunicorn(host, port, workers or default_workers(), threads)


def _die_with_the_master() -> None:
    """A worker is killed when its master dies, even by SIGKILL, so no orphan keeps the port (Linux)."""
    try:
        # Linux only, and only in a forked worker.
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the worker notices its master is gone within a second and stops


def _gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    # gunicorn and the WSGI application it serves are needed by `vafa serve` alone, not by --dev or the tests.
    from gunicorn.app.base import BaseApplication

    from vafa.wsgi import application

    connections.close_all()  # the workers fork from this process: none may inherit migrate's connection

    class Server(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{host}:{port}", "workers": workers, "threads": threads,
                # gthread: a connection holds a thread only while a request is being read or answered; a
                # client that connects and sends nothing is handed back to the poller, and kept-alive idle
                # connections wait there too, so idle or half-open connections cannot starve the workers.
                "worker_class": "gthread", "backlog": BACKLOG, "keepalive": 5, "timeout": 60,
                "graceful_timeout": 20, "accesslog": None, "errorlog": "-", "loglevel": "warning",
                "limit_request_line": 8190, "limit_request_fields": 100,
                "post_fork": lambda server, worker: _die_with_the_master(),
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self):
            return application

    Server().run()
