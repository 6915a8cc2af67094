from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vafa.backups.services import BackupError, database_label, restore_backup


class Command(BaseCommand):
    help = ("Restore a backup made by `vafa backup` into this database (and its media/), then migrate it and "
            "check the ledger. A database that already holds data is only replaced with --force.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--force", action="store_true", help="replace a database that already holds data")

    def handle(self, *args, file, force, **options):
        try:
            restored = restore_backup(Path(file), force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {file} into {database_label()} ({restored.engine}): "
                          f"{restored.businesses} business(es), {restored.members} member(s), "
                          f"{restored.entries} ledger entries")
        if restored.problems:
            for line in restored.problems[:200]:
                self.stderr.write(line)
            raise CommandError(f"restored, but the ledger check found {len(restored.problems)} problem(s)")
        self.stdout.write("ledger check passed: every balance equals its entries")
