"""Backups of the whole database and the uploaded files (media/) to one file, and restores from it.

SQLite: the online backup API copies the live database in one read transaction, a consistent snapshot while
the server keeps writing (WAL); the copy is checked and gzip-compressed. PostgreSQL: `pg_dump
--format=custom` and `pg_restore`. The backup is a tar archive: `manifest.json` (format, engine, the database
member's name), the database dump, and `media/`. A database dump on its own (a backup made before media were
included) is still restored, recognised by its first bytes; a backup of one engine is never fed to the other.
Every file is written under a temporary name and renamed into place: a crash never leaves half a backup.
"""

from __future__ import annotations

import datetime as dt
import glob
import gzip
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from vafa.core.files import private_dir, private_file
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.members.models import Member
from vafa.tenancy.models import Business

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
DUMPS = {"sqlite": "vafa.sqlite3.gz", "postgresql": "vafa.pgdump"}  # the database member of an archive
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
MANIFEST = "manifest.json"
FORMAT = 2  # 1 was the database dump alone, without media/
# Only files of this shape are ours to prune (the older, dump-only names too); anything else is left alone.
OWN_NAME = re.compile(r"^vafa-\d{8}-\d{6}\.(tar|sqlite3\.gz|pgdump)$")
PG_SSL_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                  "sslkey": "PGSSLKEY"}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and nothing was changed."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    engine: str


@dataclass(frozen=True)
class Restored:
    engine: str
    businesses: int
    members: int
    entries: int
    problems: list[str] = field(default_factory=list)  # from the ledger check; empty when consistent


def _engine() -> str:
    if connection.vendor not in DUMPS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {connection.vendor}")
    return connection.vendor


def database_label() -> str:
    return str(connection.settings_dict["NAME"])


def default_path(now: dt.datetime) -> Path:
    """<VAFA_BACKUP_DIR>/vafa-YYYYmmdd-HHMMSS.tar, the time in UTC so that names sort by age."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path(settings.BACKUP_DIR) / f"vafa-{stamp}.tar"


def create_backup(output: Path | None = None, now: dt.datetime | None = None) -> Backup:
    """Back up the whole database and media/ to `output` (default: `default_path`); answer where and how big."""
    engine = _engine()
    if connection.in_atomic_block:
        raise BackupError("a backup copies committed data; it cannot run inside a transaction")
    target = Path(output) if output else default_path(now or timezone.now())
    private_dir(target.parent)
    partial = private_file(target.with_name(f".{target.name}.partial-{os.getpid()}"))  # 0600 from the start
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".vafa-backup-") as work:
            dump = Path(work) / DUMPS[engine]
            if engine == "sqlite":
                _sqlite_backup(dump)
            else:
                _run([_pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={dump}",
                      f"--dbname={connection.settings_dict['NAME']}"])
            _pack(partial, engine, dump)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, engine)


def backup_kind(path: Path) -> str:
    """Which engine the file is a backup of: our archive (its manifest says), sqlite (a SQLite database, plain
    or gzip-compressed) or postgresql (a pg_dump custom archive)."""
    if _is_archive(path):
        return str(_manifest(path)["engine"])
    with open(path, "rb") as raw:
        head = raw.read(len(SQLITE_MAGIC))
    if head.startswith(PG_MAGIC):
        return "postgresql"
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path) as unpacked:
                head = unpacked.read(len(SQLITE_MAGIC))
        except (OSError, EOFError, zlib.error):
            head = b""
    if head == SQLITE_MAGIC:
        return "sqlite"
    raise BackupError(f"{path} is not a Vafa backup: neither a SQLite database nor a pg_dump custom archive")


def _pack(partial: Path, engine: str, dump: Path) -> None:
    """The archive: the manifest first (so a file is recognised by its first bytes), the dump, then media/.
    Not compressed again: the dump is compressed already and pictures do not shrink."""
    manifest = json.dumps({"format": FORMAT, "engine": engine, "database": dump.name}).encode()
    media = Path(settings.MEDIA_DIR)
    with open(partial, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(manifest), int(timezone.now().timestamp()), 0o600
        archive.addfile(info, io.BytesIO(manifest))
        archive.add(dump, arcname=dump.name)
        if media.is_dir():
            archive.add(media, arcname="media")


def _is_archive(path: Path) -> bool:
    with open(path, "rb") as raw:
        return raw.read(len(MANIFEST) + 1) == MANIFEST.encode() + b"\x00"


def _manifest(path: Path) -> dict:
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile(MANIFEST)
            manifest = json.load(member) if member else None
    except (OSError, KeyError, ValueError, tarfile.TarError) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("engine") not in DUMPS or "database" not in manifest:
        raise BackupError(f"{path} is damaged: its manifest is not a Vafa backup's")
    return manifest


def _unpack(path: Path, work: Path) -> tuple[Path, Path]:
    """Extract the archive's database dump and media/ into `work`; answer both (media/ empty when none)."""
    manifest = _manifest(path)
    try:
        with tarfile.open(path) as archive:
            wanted = [m for m in archive.getmembers()
                      if m.name == manifest["database"] or m.name == "media" or m.name.startswith("media/")]
            archive.extractall(work, members=wanted, filter="data")  # no paths outside work, no devices
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from exc
    dump = work / Path(manifest["database"]).name
    if not dump.is_file():
        raise BackupError(f"{path} is damaged: the database {manifest['database']} is missing")
    media = work / "media"
    media.mkdir(exist_ok=True)
    return dump, media


def _replace_media(restored: Path, work: Path) -> None:
    """Put the backup's media/ in place of the current one (renamed aside, removed with `work`)."""
    target = Path(settings.MEDIA_DIR)
    if target.exists():
        shutil.move(target, work / "media-before")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(restored, target)


def restore_backup(path: Path, *, force: bool = False) -> Restored:
    """Replace the database and media/ with the backup at `path`, then migrate it (an older backup is upgraded)
    and check the ledger. Refused, with nothing changed, when the database already holds data and `force` is
    not given, when the backup is of the other engine, or when the file is not a sound backup. A backup made
    before media/ were included leaves media/ as it is."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    engine = _engine()
    kind = backup_kind(path)
    if kind != engine:
        raise BackupError(f"{path} is a {ENGINES[kind]} backup but this database is {ENGINES[engine]}; "
                          f"restore it into a {ENGINES[kind]} database (VAFA_DATABASE_URL decides which)")
    if not force:
        filled = tables_with_rows()
        if filled:
            more = ", …" if len(filled) > 5 else ""
            raise BackupError(f"the database {database_label()} is not empty ({', '.join(filled[:5])}{more} "
                              "hold rows); restore --force replaces everything in it")
    private_dir(Path(settings.DATA_DIR))
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR, prefix=".vafa-restore-") as work:
        dump, media = _unpack(path, Path(work)) if _is_archive(path) else (path, None)
        if engine == "sqlite":
            _sqlite_restore(dump)
        else:
            _pg_restore(dump)
        if media is not None:
            _replace_media(media, Path(work))
    connection.close()
    call_command("migrate", interactive=False, verbosity=0)
    return _summary(engine)


def prune_backups(keep: int) -> list[Path]:
    """Delete our backups (by name) in VAFA_BACKUP_DIR beyond the `keep` newest; answer what was deleted."""
    ours = sorted(p for p in Path(settings.BACKUP_DIR).glob("vafa-*") if OWN_NAME.match(p.name) and p.is_file())
    doomed = ours[:-keep] if keep > 0 else []
    for old in doomed:
        old.unlink()
    return doomed


def tables_with_rows() -> list[str]:
    """The tables of Vafa's apps (and the operators' accounts) that hold at least one row."""
    existing = set(connection.introspection.table_names())
    user = get_user_model()
    filled = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or meta.db_table not in existing:
            continue
        if (meta.app_config.name.startswith("vafa.") or model is user) and model._base_manager.exists():
            filled.append(meta.db_table)
    return filled


def _summary(engine: str) -> Restored:
    return Restored(engine=engine, businesses=Business.objects.count(), members=Member.objects.count(),
                    entries=Entry.objects.count(), problems=check_ledger())


# --- SQLite ---------------------------------------------------------------------------------------------


def _sqlite_backup(partial: Path) -> None:
    connection.ensure_connection()
    with tempfile.TemporaryDirectory(dir=partial.parent, prefix=".vafa-backup-") as work:
        copy = Path(work) / "vafa.sqlite3"
        target = sqlite3.connect(copy)
        try:
            # All pages in one step: one read transaction, so one snapshot; in WAL mode writers carry on.
            # Copied in several steps, a write by the server would restart the copy.
            connection.connection.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_sqlite(target, copy)
        finally:
            target.close()
        with open(copy, "rb") as source, open(partial, "wb") as raw, \
                gzip.GzipFile(filename="vafa.sqlite3", mode="wb", fileobj=raw, compresslevel=6) as packed:
            shutil.copyfileobj(source, packed, 1 << 20)


def _sqlite_restore(path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR, prefix=".vafa-restore-") as work:
        copy = Path(work) / "vafa.sqlite3"
        with open(path, "rb") as raw:
            opener = gzip.open if raw.read(2) == b"\x1f\x8b" else open
        try:
            with opener(path, "rb") as source, open(copy, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError, zlib.error) as exc:
            raise BackupError(f"{path} is damaged: {exc}") from exc
        source_db = sqlite3.connect(copy)
        try:
            _check_sqlite(source_db, path)
            _refuse_in_transaction()
            connection.ensure_connection()
            # The backup API writes every page into the live database in one transaction: all or nothing, and
            # connections that stay open (a running server) see the restored data.
            source_db.backup(connection.connection)
        finally:
            source_db.close()


def _check_sqlite(db: sqlite3.Connection, name: Path) -> None:
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        migrated = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'django_migrations'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{name} is damaged: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{name} is damaged: {verdict}")
    if not migrated:
        raise BackupError(f"{name} is a SQLite database but not a Vafa one")


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    """The tool from PATH, else from the newest /usr/lib/postgresql/<version>/bin (Debian's layout)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    if versions:
        return versions[-1]
    raise BackupError(f"{name} not found: install the PostgreSQL client tools (Debian: postgresql-client)")


def _pg_env() -> dict[str, str]:
    """The connection as libpq's environment, so that the password never shows in a process list."""
    config = connection.settings_dict
    env = dict(os.environ)
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"),
                          ("PASSWORD", "PGPASSWORD")):
        if config.get(key):
            env[variable] = str(config[key])
    for option, variable in PG_SSL_OPTIONS.items():
        if config.get("OPTIONS", {}).get(option):
            env[variable] = str(config["OPTIONS"][option])
    return env


def _run(command: list[str]) -> None:
    done = subprocess.run(command, env=_pg_env(), capture_output=True, text=True)
    if done.returncode:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def _pg_restore(path: Path) -> None:
    tool = _pg_tool("pg_restore")
    _run([tool, "--list", str(path)])  # a damaged archive is refused before anything is dropped
    _refuse_in_transaction()
    with transaction.atomic(), connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if tables:
            names = ", ".join(connection.ops.quote_name(t) for t in tables)
            cursor.execute(f"DROP TABLE {names} CASCADE")
    _run([tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--no-password",
          f"--dbname={connection.settings_dict['NAME']}", str(path)])


def _refuse_in_transaction() -> None:
    if connection.in_atomic_block:
        raise BackupError("a restore replaces the whole database; it cannot run inside a transaction")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
