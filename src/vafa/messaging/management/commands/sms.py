import json

from django.core.management.base import BaseCommand, CommandError

from vafa.core.errors import VafaError
from vafa.messaging.services import send_test
from vafa.tenancy.models import Business


class Command(BaseCommand):
    help = "SMS: `test --business SLUG --to 0912…` sends one message through the business's channel now."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        test = sub.add_parser("test")
        test.add_argument("--business", required=True)
        test.add_argument("--to", required=True)
        test.add_argument("--text", default="")

    def handle(self, *args, action, **options):
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"no business {options['business']!r}")
        try:
            answer = send_test(business, options["to"], options["text"])
        except VafaError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(answer, ensure_ascii=False, default=str))
        if answer["state"] not in ("sent", "delivered"):
            raise CommandError(f"not sent: {answer['error']}")
