"""The daily backup job."""

import datetime as dt

from django.conf import settings
from django.db import connection

from vafa.backups.services import create_backup, prune_backups


def scheduled_backup(now: dt.datetime | None = None) -> str:
    """A backup into VAFA_BACKUP_DIR; only the newest VAFA_BACKUP_KEEP of ours are kept (0: none made)."""
    if settings.BACKUP_KEEP <= 0:
        return "off (VAFA_BACKUP_KEEP=0)"
    if connection.in_atomic_block:
        # The demo runs the periodic jobs inside its own transaction: nothing of it is committed to copy yet.
        return "skipped: inside a transaction"
    backup = create_backup(now=now)
    removed = prune_backups(settings.BACKUP_KEEP)
    return f"{backup.path} ({backup.size} bytes); {len(removed)} old backup(s) removed"
