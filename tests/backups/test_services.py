"""Backups and restores in-process on both engines: the file, the refusals, the daily job and its retention;
on PostgreSQL a pg_dump restored by `vafa restore` into a second database on the same server."""

import datetime as dt
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection

from conftest import ON_POSTGRES, postgres_only
from vafa.backups.services import BackupError, backup_kind, create_backup, restore_backup
from vafa.jobs.services import run_job
from vafa.ledger.models import Entry
from vafa.tenancy.models import Business

from .scenario import seed, snapshot

TESTS = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 3, 1, 4, 30, tzinfo=dt.UTC)


def fake(path: Path, head: bytes) -> Path:
    path.write_bytes(head + b"\x00" * 200)
    return path


def own_kind_fake(tmp_path: Path) -> Path:
    """A file that passes the first look as a backup of this database's engine, but is not one."""
    if connection.vendor == "sqlite":
        return fake(tmp_path / "x.sqlite3.gz", gzip.compress(b"SQLite format 3\x00" + b"\x01" * 100))
    return fake(tmp_path / "x.pgdump", b"PGDMP")


def test_a_backup_is_a_complete_recognisable_file(transactional_db, tmp_path):
    seed()
    backup = create_backup(tmp_path / "sub" / "one", now=NOW)
    assert (backup.path, backup.engine) == (tmp_path / "sub" / "one", connection.vendor)
    assert backup.size == backup.path.stat().st_size > 0
    assert backup_kind(backup.path) == connection.vendor
    assert [p.name for p in backup.path.parent.iterdir()] == ["one"]  # nothing temporary left beside it
    with tarfile.open(backup.path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
        assert manifest == {"format": 2, "engine": connection.vendor, "database": manifest["database"]}
        dump = archive.extractfile(manifest["database"]).read()
    if connection.vendor == "sqlite":
        plain = tmp_path / "plain.sqlite3"
        plain.write_bytes(gzip.decompress(dump))
        with sqlite3.connect(plain) as copy:
            entries = copy.execute("SELECT count(*) FROM ledger_entry").fetchone()[0]
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, no -wal needed
        assert entries == Entry.objects.count() > 0
        assert backup_kind(plain) == "sqlite"  # a plain database file is accepted too


@pytest.mark.skipif(ON_POSTGRES, reason="restores into the test database; PostgreSQL: the same checks on a "
                                        "second database, test_pg_dump_restored_into_a_second_database…")
def test_uploaded_files_are_backed_up_and_restored(transactional_db, tmp_path, settings):
    settings.DATA_DIR, settings.MEDIA_DIR = tmp_path / "data", tmp_path / "data" / "media"
    picture = settings.MEDIA_DIR / "gifts" / "mug.webp"
    picture.parent.mkdir(parents=True)
    picture.write_bytes(b"RIFF a gift picture")
    seed(members=1)
    backup = create_backup(tmp_path / "b.tar")
    picture.unlink()
    later = settings.MEDIA_DIR / "logos" / "after.png"
    later.parent.mkdir()
    later.write_bytes(b"uploaded after the backup")
    assert not restore_backup(backup.path, force=True).problems
    assert picture.read_bytes() == b"RIFF a gift picture"
    assert not later.exists()  # media/ is as it was at the backup, like the database
    assert [p.name for p in settings.DATA_DIR.iterdir()] == ["media"]  # nothing temporary left behind

    with tarfile.open(backup.path) as archive:  # a backup made before media/ were included: the dump alone
        dump = tmp_path / "old.sqlite3.gz"
        dump.write_bytes(archive.extractfile("vafa.sqlite3.gz").read())
    assert not restore_backup(dump, force=True).problems
    assert picture.read_bytes() == b"RIFF a gift picture"  # media/ left as it is


def test_a_backup_inside_a_transaction_is_refused(db, tmp_path):
    with pytest.raises(BackupError, match="inside a transaction"):
        create_backup(tmp_path / "x")
    # The demo runs the periodic jobs inside its own transaction.
    assert run_job("backup", NOW) == "skipped: inside a transaction"
    assert not (tmp_path / "x").exists()


def test_restore_refuses_what_it_must_and_changes_nothing(business, tmp_path):
    before = Business.objects.count()
    with pytest.raises(BackupError, match="no such file"):
        restore_backup(tmp_path / "missing")
    with pytest.raises(BackupError, match="is not a Vafa backup"):
        restore_backup(fake(tmp_path / "notes.txt", b"hello"))
    with pytest.raises(BackupError, match="is not a Vafa backup"):
        restore_backup(fake(tmp_path / "broken.gz", b"\x1f\x8b\x08\x00"))
    other = fake(tmp_path / "y", b"PGDMP" if connection.vendor == "sqlite" else b"SQLite format 3\x00")
    with pytest.raises(BackupError, match=r"backup but this database is (SQLite|PostgreSQL)"):
        restore_backup(other, force=True)
    with pytest.raises(BackupError, match=r"is not empty \(.*tenancy_business.*--force"):
        restore_backup(own_kind_fake(tmp_path))
    with pytest.raises(BackupError, match="damaged|failed"):  # checked before anything is dropped
        restore_backup(own_kind_fake(tmp_path), force=True)
    assert Business.objects.count() == before


def test_the_daily_job_backs_up_and_keeps_the_newest(transactional_db, tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_KEEP = 3
    seed(members=1)
    ext = ".sqlite3.gz" if connection.vendor == "sqlite" else ".pgdump"  # older backups, the dump alone
    old = [f"vafa-202602{day:02d}-040000{ext}" for day in (10, 11)] + [f"vafa-202602{day}-040000.tar" for day in (12, 13)]
    theirs = ["notes.txt", "vafa-latest.sqlite3.gz", "vafa-20260101-000000.sqlite3.gz.bak"]
    for name in old + theirs:
        (tmp_path / name).write_bytes(b"x")
    new = tmp_path / "vafa-20260301-043000.tar"
    assert run_job("backup", NOW) == f"{new} ({new.stat().st_size} bytes); 2 old backup(s) removed"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*old[2:], new.name, *theirs])
    settings.BACKUP_KEEP = 0
    assert run_job("backup", NOW + dt.timedelta(days=1)) == "off (VAFA_BACKUP_KEEP=0)"
    assert len(list(tmp_path.iterdir())) == 6


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under `root` by its relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@postgres_only
def test_pg_dump_restored_into_a_second_database_gives_every_balance_back(transactional_db, tmp_path,
                                                                          monkeypatch, settings):
    """The database and media/ both: `vafa restore` runs in its own process on a second database and its own
    data directory, so the test database and the backed-up media/ stay as they are."""
    data = tmp_path / "data"
    monkeypatch.setenv("VAFA_DATA_DIR", str(data))  # the restores' media/ goes there, not into ./
    settings.MEDIA_DIR = tmp_path / "original" / "media"  # what the backup (this process) packs
    uploads = {"gifts/mug.webp": b"RIFF a gift picture" + bytes(range(256)) * 40,  # every byte value
               "logos/لوگو کافه.png": b"\x89PNG\r\n\x1a\n" + os.urandom(70_000),
               "gifts/nested/deeper/empty.txt": b""}
    for name, content in uploads.items():
        (settings.MEDIA_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.MEDIA_DIR / name).write_bytes(content)
    seed()
    before = snapshot()
    backup = create_backup(tmp_path / "vafa.tar")
    with tarfile.open(backup.path) as archive:
        assert archive.extractfile("vafa.pgdump").read(5) == b"PGDMP"
        assert {m.name for m in archive.getmembers() if m.isfile()} >= {f"media/{name}" for name in uploads}
    name = f"vafa_restore_{uuid.uuid4().hex[:8]}"
    url = urlsplit(os.environ["VAFA_DATABASE_URL"])
    second = urlunsplit(url._replace(path=f"/{name}"))
    with psycopg.connect(os.environ["VAFA_DATABASE_URL"], autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            restored = vafa_on(second, "restore", str(backup.path))
            assert restored.returncode == 0, restored.stderr
            assert f"1 business(es), 4 member(s), {before['entry_count']} ledger entries" in restored.stdout
            assert "ledger check passed" in restored.stdout
            assert after(second) == json.loads(json.dumps(before))
            assert files_under(data / "media") == uploads  # byte for byte
            assert not list(data.glob(".vafa-restore-*"))  # nothing temporary left behind
            refused = vafa_on(second, "restore", str(backup.path))
            assert refused.returncode == 1 and "is not empty" in refused.stderr
            (data / "media" / "gifts" / "mug.webp").unlink()
            (data / "media" / "logos" / "after.png").write_bytes(b"uploaded after the backup")
            forced = vafa_on(second, "restore", str(backup.path), "--force")
            assert forced.returncode == 0, forced.stderr
            assert after(second) == json.loads(json.dumps(before))
            assert files_under(data / "media") == uploads  # as at the backup, like the database

            dump_only = tmp_path / "old.pgdump"  # a backup made before media/ were included: the dump alone
            with tarfile.open(backup.path) as archive:
                dump_only.write_bytes(archive.extractfile("vafa.pgdump").read())
            (data / "media" / "logos" / "after.png").write_bytes(b"uploaded after the backup")
            old = vafa_on(second, "restore", str(dump_only), "--force")
            assert old.returncode == 0, old.stderr
            assert after(second) == json.loads(json.dumps(before))
            assert files_under(data / "media") == uploads | {"logos/after.png": b"uploaded after the backup"}
            assert files_under(settings.MEDIA_DIR) == uploads  # the backed-up media/ never touched
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def vafa_on(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VAFA_DATABASE_URL": database_url,
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "vafa.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def after(database_url: str) -> dict:
    done = vafa_on(database_url, "shell", "-c",
                   "import json; from backups.scenario import snapshot; print(json.dumps(snapshot()))")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_backups_are_private_files_in_a_private_directory(transactional_db, tmp_path):
    """A backup is the whole database: only the account running Vafa may read it (issue 10)."""
    import stat

    os.umask(0o022)
    backup = create_backup(tmp_path / "backups" / "b.sqlite3.gz")
    assert stat.S_IMODE(backup.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.path.parent.stat().st_mode) == 0o700
