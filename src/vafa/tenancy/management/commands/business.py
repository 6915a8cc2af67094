from django.core.management.base import BaseCommand, CommandError

from vafa.core.errors import VafaError
from vafa.tenancy.models import Business
from vafa.tenancy.selectors import business_by_slug
from vafa.tenancy.services import create_branch, create_business


class Command(BaseCommand):
    help = "Businesses (tenants): `create`, `list`, `add-branch`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--slug", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--currency", default="IRT")
        create.add_argument("--timezone", default="Asia/Tehran")
        create.add_argument("--language", default="fa", choices=["fa", "en"])
        create.add_argument("--calendar", default="jalali", choices=["jalali", "gregorian"])
        create.add_argument("--branch", action="append", default=[], metavar="CODE:NAME",
                            help="a branch to create with it; repeat for more")
        sub.add_parser("list")
        branch = sub.add_parser("add-branch")
        branch.add_argument("--business", required=True)
        branch.add_argument("--code", required=True)
        branch.add_argument("--name", required=True)
        branch.add_argument("--address", default="")

    def handle(self, *args, action, **o):
        try:
            if action == "list":
                for b in Business.objects.order_by("slug"):
                    self.stdout.write(f"{b.slug}\t{b.name}\t{b.currency}\t{b.language}\t{b.calendar}")
            elif action == "create":
                business = create_business(name=o["name"], slug=o["slug"], currency=o["currency"],
                                           timezone=o["timezone"], language=o["language"], calendar=o["calendar"])
                for spec in o["branch"]:
                    code, _, name = spec.partition(":")
                    create_branch(business, code=code, name=name or code)
                self.stdout.write(f"created business {business.slug} (id {business.pk})")
            else:
                branch = create_branch(business_by_slug(o["business"]), code=o["code"], name=o["name"],
                                       address=o["address"])
                self.stdout.write(f"created branch {branch.code}")
        except VafaError as exc:
            raise CommandError(str(exc)) from exc
