from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate the database and serve Vafa over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        # runserver with --insecure serves the admin's static files without a separate web server; a
        # production deployment puts a WSGI server and a static file server in front (docs/decisions.md).
        call_command("runserver", f"{host}:{port}", use_reloader=False, insecure_serving=True, use_threading=True)
