from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from vafa.core.sharding import citus_plan


class Command(BaseCommand):
    help = ("`plan`: print the SQL that moves this migrated PostgreSQL database onto Citus, sharded by business_id "
            "(docs/scaling.md). It prints, never runs.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("plan")

    def handle(self, *args, action, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Citus is PostgreSQL: set VAFA_DATABASE_URL to the database to move")
        self.stdout.write("\n".join(citus_plan(connection)))
