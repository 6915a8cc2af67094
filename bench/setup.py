"""Django in a benchmark's own process: every bench script starts here."""

from __future__ import annotations

import os
import time


def django_ready(*, migrate: bool = False) -> float:
    """Django set up on the database VAFA_DATA_DIR / VAFA_DATABASE_URL names (vafa.settings, DEBUG off unless
    VAFA_DEBUG says so), and migrated when the script builds its own data (`migrate`): a script that measures a
    database built before (the demo's, bench/dataset.py's) leaves it as it is. Answers the migration's seconds."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    import django

    django.setup()
    if not migrate:
        return 0.0
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    return time.perf_counter() - started
