from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the database and serve Vafa over HTTP (runserver; gunicorn with --workers N)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=0,
                            help="serve with gunicorn and this many worker processes (production)")

    def handle(self, *args, host, port, workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if workers > 0:
            _gunicorn(host, port, workers)
            return
        # runserver with --insecure serves the admin's static files without a separate web server; a
        # production deployment puts a WSGI server and a static file server in front (docs/decisions.md).
        call_command("runserver", f"{host}:{port}", use_reloader=False, insecure_serving=True, use_threading=True)


def _gunicorn(host: str, port: int, workers: int) -> None:
    from django.db import connections
    from gunicorn.app.base import BaseApplication

    from vafa.wsgi import application

    connections.close_all()  # the workers fork from this process: none may inherit migrate's connection

    class Server(BaseApplication):
        def load_config(self):
            for name, value in {"bind": f"{host}:{port}", "workers": workers, "worker_class": "sync",
                                "accesslog": None, "timeout": 60, "backlog": 2048}.items():
                self.cfg.set(name, value)

        def load(self):
            return application

    Server().run()
