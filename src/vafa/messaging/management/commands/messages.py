import json

from django.core.management.base import BaseCommand, CommandError

from vafa.messaging.selectors import totals_by_state
from vafa.messaging.tasks import send_due
from vafa.tenancy.models import Business


class Command(BaseCommand):
    help = ("Messages: `send-due` composes, queues and sends every due message (also run by `vafa worker`); "
            "`status [--business SLUG]` counts messages, parts and cost by state.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("send-due")
        status = sub.add_parser("status")
        status.add_argument("--business", default=None)

    def handle(self, *args, action, **options):
        if action == "send-due":
            self.stdout.write(json.dumps(send_due()))
            return
        business = None
        if options.get("business"):
            business = Business.objects.filter(slug=options["business"]).first()
            if business is None:
                raise CommandError(f"no business {options['business']!r}")
        self.stdout.write(json.dumps(totals_by_state(business), ensure_ascii=False))
