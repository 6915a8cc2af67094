from django.core.management.base import BaseCommand, CommandError

from vafa.core.errors import VafaError
from vafa.tenancy.selectors import business_by_slug
from vafa.woocommerce import services
from vafa.woocommerce.models import WooConnection


class Command(BaseCommand):
    help = ("WooCommerce shops: `connect --business SLUG --branch CODE [--base-url URL]` prints the delivery URL "
            "and the secret for WooCommerce's webhook form; `list`; `deactivate ID`.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        connect = sub.add_parser("connect")
        connect.add_argument("--business", required=True)
        connect.add_argument("--branch", required=True, help="the branch online orders count in")
        connect.add_argument("--base-url", default="", help="this Vafa's address, e.g. https://club.example.ir")
        connect.add_argument("--no-sign-up", action="store_true",
                             help="do not sign up customers whose billing mobile is not a member")
        connect.add_argument("--paid-status", action="append", dest="paid_statuses",
                             help="an order status that means paid (repeat; default processing and completed)")
        listing = sub.add_parser("list")
        listing.add_argument("--business", required=True)
        listing.add_argument("--base-url", default="")
        deactivate = sub.add_parser("deactivate")
        deactivate.add_argument("--business", required=True)
        deactivate.add_argument("id", type=int)

    def handle(self, *args, action, **o):
        base = (o.get("base_url") or "").rstrip("/")
        try:
            business = business_by_slug(o["business"])
            if action == "connect":
                connection = services.create_connection(business, branch_code=o["branch"],
                                                        sign_up_unknown=not o["no_sign_up"],
                                                        paid_statuses=o["paid_statuses"])
                self.stdout.write(f"delivery URL: {base}{services.delivery_url(connection)}")
                self.stdout.write(f"secret: {connection.secret}")
            elif action == "list":
                for row in WooConnection.objects.filter(business=business).select_related("branch").order_by("id"):
                    state = "active" if row.active else "inactive"
                    last = row.last_delivery_at.isoformat() if row.last_delivery_at else "never"
                    self.stdout.write(f"{row.pk}\t{row.branch.code}\t{state}\t{base}{services.delivery_url(row)}"
                                      f"\tlast delivery {last}")
            else:
                services.deactivate_connection(business, o["id"])
                self.stdout.write("deactivated")
        except VafaError as exc:
            raise CommandError(str(exc)) from exc
