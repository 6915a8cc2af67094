"""`vafa import members FILE` and `vafa import purchases FILE`: a business's members and purchase history
from CSV or Excel, all or nothing (vafa.imports.services)."""

import time

from django.core.management.base import BaseCommand, CommandError

from vafa.core.errors import VafaError
from vafa.core.usecase import run_use_case
from vafa.imports.services import ImportRejected, import_members, import_purchases, read_lines
from vafa.tenancy.selectors import business_by_slug


class Command(BaseCommand):
    help = ("Import from CSV (UTF-8) or Excel (.xlsx, the first sheet): `members FILE` (mobile[, first_name, last_name, email, points, joined_at]) or "
            "`purchases FILE` (receipt, mobile, branch, occurred_at, total). Bad rows are listed with their "
            "line numbers and nothing is written; rows already in Vafa are skipped.")

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["members", "purchases"])
        parser.add_argument("file")
        parser.add_argument("--business", required=True, help="the business's slug")

    def handle(self, *args, kind, file, business, **options):
        started = time.perf_counter()
        try:
            tenant = business_by_slug(business)

            def run():
                if kind == "members":
                    return import_members(tenant, read_lines(file), source=f"import:{file}"[:100])
                return import_purchases(tenant, read_lines(file))

            # One use case, one audit row for the whole file, written when it commits (a rejected file: none).
            result, _ = run_use_case(tenant, f"import.{kind}", {"file": file}, run, object_type="import",
                                     object_id=None)
        except ImportRejected as exc:
            for problem in exc.result.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{exc.result.problem_count} bad rows of {exc.result.rows}; nothing imported") from None
        except (VafaError, OSError) as exc:
            listed = "; ".join(f"{e['field']}: {e['message']}" for e in getattr(exc, "errors", []))
            raise CommandError(listed or str(exc)) from exc
        seconds = time.perf_counter() - started
        extra = f", opening points {result.opening_points}" if kind == "members" else ""
        self.stdout.write(f"imported {result.created} {kind}, skipped {result.skipped} already in Vafa{extra} "
                          f"({result.rows} rows in {seconds:.1f} s)")
