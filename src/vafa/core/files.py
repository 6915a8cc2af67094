"""Files only the account running Vafa may read: the data directory, the database, backups, the secret key."""

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if missing; take group and others' access away from it."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if missing (so what is written into it later never was readable by
    others, not even for a moment); take group and others' access away from an existing one."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        _tighten(path)
    return path


def _tighten(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & ~0o077)
    except PermissionError:
        pass  # not ours (a shared mount): leave it as the administrator set it
