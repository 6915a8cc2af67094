from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from vafa.access.models import ApiKey, Scope
from vafa.access.services import create_api_key
from vafa.core.errors import VafaError
from vafa.tenancy.selectors import branch_by_code, business_by_slug


class Command(BaseCommand):
    help = "API keys: `create --business SLUG [--branch CODE] [--scope write]` prints the key once; `list`; `revoke`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--business", required=True)
        create.add_argument("--branch")
        create.add_argument("--scope", choices=Scope.values, default=Scope.WRITE)
        create.add_argument("--name", default="")
        listing = sub.add_parser("list")
        listing.add_argument("--business", required=True)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("--business", required=True)
        revoke.add_argument("prefix")

    def handle(self, *args, action, **o):
        try:
            business = business_by_slug(o["business"])
            if action == "create":
                branch = branch_by_code(business, o["branch"]) if o.get("branch") else None
                row, key = create_api_key(business, scope=o["scope"], branch=branch, name=o["name"])
                self.stdout.write(key)
            elif action == "list":
                for row in ApiKey.objects.filter(business=business).order_by("id"):
                    state = "revoked" if row.revoked_at else "active"
                    self.stdout.write(f"{row.prefix}\t{row.scope}\t{row.branch.code if row.branch else '*'}\t{state}\t{row.name}")
            else:
                done = ApiKey.objects.filter(business=business, prefix=o["prefix"], revoked_at__isnull=True).update(
                    revoked_at=timezone.now())
                if not done:
                    raise CommandError("no such active key")
                self.stdout.write("revoked")
        except VafaError as exc:
            raise CommandError(str(exc)) from exc
