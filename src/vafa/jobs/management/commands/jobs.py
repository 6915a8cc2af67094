import json

from django.core.management.base import BaseCommand, CommandError

from vafa.jobs.services import job_names, run_due, run_job


class Command(BaseCommand):
    help = "Periodic jobs: `run-due` runs every job whose interval has passed; `run NAME` runs one now; `list`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("run-due")
        one = sub.add_parser("run")
        one.add_argument("name", choices=job_names())
        sub.add_parser("list")

    def handle(self, *args, action, **options):
        if action == "list":
            self.stdout.write("\n".join(job_names()))
        elif action == "run":
            try:
                self.stdout.write(json.dumps({options["name"]: run_job(options["name"])}))
            except Exception as exc:
                raise CommandError(str(exc)) from exc
        else:
            results = run_due()
            self.stdout.write(json.dumps(results, ensure_ascii=False))
            if any(str(v).startswith("failed") for v in results.values()):
                raise CommandError("a job failed")
