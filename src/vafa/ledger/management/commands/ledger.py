from django.core.management.base import BaseCommand, CommandError

from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.tenancy.selectors import business_by_slug


class Command(BaseCommand):
    help = "`check`: prove that every balance equals the sum of its entries and that the lots agree."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check")
        check.add_argument("--business", help="slug; default: every business")

    def handle(self, *args, action, **options):
        business_id = None
        if options.get("business"):
            business_id = business_by_slug(options["business"]).pk
        problems = check_ledger(business_id)
        entries = Entry.objects.filter(business_id=business_id).count() if business_id else Entry.objects.count()
        if problems:
            for line in problems[:200]:
                self.stderr.write(line)
            raise CommandError(f"ledger check failed: {len(problems)} problem(s) in {entries} entries")
        self.stdout.write(f"ledger check passed: {entries} entries, every balance equals its entries")
