from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vafa.purchases.counters import check_counters, rebuild_counters
from vafa.purchases.models import ActivityCounter, Purchase, RewardEffect, Visit
from vafa.tenancy.selectors import business_by_slug


class Command(BaseCommand):
    help = ("`check`: prove that every activity counter equals the purchases, visits and effects it sums; "
            "`rebuild`: write them again from those rows.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("check", "rebuild"):
            sub.add_parser(name).add_argument("--business", help="slug; default: every business")

    def handle(self, *args, action, **options):
        business_id = None
        if options.get("business"):
            business_id = business_by_slug(options["business"]).pk
        if action == "rebuild":
            with transaction.atomic():
                written = rebuild_counters(ActivityCounter, Purchase, Visit, RewardEffect, business_id)
            self.stdout.write(f"counters rebuilt: {written} rows")
            return
        problems = check_counters(business_id)
        if problems:
            for line in problems[:200]:
                self.stderr.write(line)
            raise CommandError(f"counters check failed: {len(problems)} problem(s)")
        self.stdout.write("counters check passed: every counter equals the rows it sums")
