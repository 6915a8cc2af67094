from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vafa.backups.services import BackupError, create_backup


class Command(BaseCommand):
    help = ("Back up the whole database and the uploaded files (media/) to one tar file while the server keeps "
            "serving (SQLite: online copy, gzip-compressed; PostgreSQL: pg_dump custom format).")

    def add_arguments(self, parser):
        parser.add_argument("--output",
                            help="the file to write; default: VAFA_BACKUP_DIR/vafa-YYYYmmdd-HHMMSS.tar")

    def handle(self, *args, output, **options):
        try:
            backup = create_backup(Path(output) if output else None)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"backup written: {backup.path} ({backup.size:,} bytes, {backup.engine})")
