"""`vafa backup` and `vafa restore` as a user runs them: separate processes, SQLite files in data directories
named with --data-dir. (The PostgreSQL round trip is in test_services.py.)"""

import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite data directories; PostgreSQL: test_services")

TESTS = Path(__file__).resolve().parents[1]
SEED = "from django.core.management import call_command; call_command('migrate', verbosity=0); "


def env(**extra) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("VAFA_DATABASE_URL", "VAFA_DATA_DIR")}
    base["PYTHONPATH"] = os.pathsep.join([str(TESTS), base.get("PYTHONPATH", "")])
    return {**base, **extra}


def vafa(data_dir: Path, *args: str, check: bool = True, **extra_env) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "vafa.cli", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, env=env(**extra_env), timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def shell(data_dir: Path, code: str) -> dict:
    """Run Python in a `vafa shell` on that data directory; its last printed line is JSON."""
    done = vafa(data_dir, "shell", "-c", "import json; from backups.scenario import seed, snapshot; " + code)
    return json.loads(done.stdout.strip().splitlines()[-1])


def dump_of(backup: Path) -> bytes:
    """The database dump inside a backup archive."""
    with tarfile.open(backup) as archive:
        return archive.extractfile("vafa.sqlite3.gz").read()


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """A data directory with a business and its history, its snapshot, and a backup of it."""
    base = tmp_path_factory.mktemp("original")
    before = shell(base / "data", SEED + "seed(); print(json.dumps(snapshot()))")
    (base / "data" / "media" / "gifts").mkdir(parents=True)
    (base / "data" / "media" / "gifts" / "mug.webp").write_bytes(b"RIFF a gift picture")
    backup = base / "copy.tar"
    done = vafa(base / "data", "backup", "--output", str(backup))
    assert done.stdout.strip() == f"backup written: {backup} ({backup.stat().st_size:,} bytes, sqlite)"
    return before, backup


def test_a_restore_into_a_fresh_data_dir_gives_every_balance_back(original, tmp_path):
    before, backup = original
    assert before["entry_count"] > 20 and before["purchases"] == 8
    assert any(b["wallet"]["available"] > 0 for b in before["balances"].values())
    assert gzip.decompress(dump_of(backup))[:16] == b"SQLite format 3\x00"
    assert not list(backup.parent.glob(".*partial*"))  # the temporary file was renamed into place
    done = vafa(tmp_path / "fresh", "restore", str(backup))
    assert done.stdout.splitlines() == [
        f"restored {backup} into {tmp_path / 'fresh' / 'vafa.sqlite3'} (sqlite): 1 business(es), "
        f"4 member(s), {before['entry_count']} ledger entries",
        "ledger check passed: every balance equals its entries",
    ]
    assert shell(tmp_path / "fresh", "print(json.dumps(snapshot()))") == before
    assert (tmp_path / "fresh" / "media" / "gifts" / "mug.webp").read_bytes() == b"RIFF a gift picture"


def test_a_database_with_data_is_replaced_only_with_force(original, tmp_path):
    before, backup = original
    target = tmp_path / "busy"
    theirs = shell(target, SEED + "seed(slug='another', members=2); print(json.dumps(snapshot()))")
    refused = vafa(target, "restore", str(backup), check=False)
    assert refused.returncode == 1
    assert "is not empty (" in refused.stderr and "tenancy_business" in refused.stderr
    assert "--force" in refused.stderr
    assert shell(target, "print(json.dumps(snapshot()))") == theirs
    vafa(target, "restore", str(backup), "--force")
    assert shell(target, "print(json.dumps(snapshot()))") == before


def test_an_older_backup_is_migrated_on_restore(original, tmp_path):
    _, backup = original
    old = tmp_path / "old.sqlite3"
    old.write_bytes(gzip.decompress(dump_of(backup)))
    with sqlite3.connect(old) as db:  # as if made before the jobs app existed
        db.execute("DROP TABLE jobs_jobrun")
        db.execute("DELETE FROM django_migrations WHERE app = 'jobs'")
    older = tmp_path / "old.sqlite3.gz"  # and the format before media/ were included: the dump alone
    older.write_bytes(gzip.compress(old.read_bytes()))
    vafa(tmp_path / "data", "restore", str(older))
    assert "[X] 0001_initial" in vafa(tmp_path / "data", "showmigrations", "jobs").stdout


def test_without_output_the_backup_goes_to_the_backup_dir(original, tmp_path):
    _, backup = original
    data = tmp_path / "data"
    vafa(data, "restore", str(backup))
    done = vafa(data, "backup", VAFA_BACKUP_DIR=str(tmp_path / "elsewhere"))
    written = re.fullmatch(r"backup written: (\S+) \(([\d,]+) bytes, sqlite\)", done.stdout.strip())
    path = Path(written[1])
    assert path.parent == tmp_path / "elsewhere"
    assert re.fullmatch(r"vafa-\d{8}-\d{6}\.tar", path.name)
    assert path.stat().st_size == int(written[2].replace(",", ""))


def test_a_backup_while_a_writer_keeps_writing_is_consistent(tmp_path):
    data, stop, ready = tmp_path / "data", tmp_path / "stop", tmp_path / "ready"
    writer = subprocess.Popen(
        [sys.executable, "-m", "vafa.cli", "shell", "--data-dir", str(data), "-c",
         SEED + f"from backups.scenario import write_until; write_until({str(stop)!r}, {str(ready)!r})"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        backups = []
        for n in range(2):
            backups.append(tmp_path / f"b{n}.tar")
            vafa(data, "backup", "--output", str(backups[-1]))
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err  # the writer never failed (no "database is locked")
    written = json.loads(out.strip().splitlines()[-1])["written"]
    entries = []
    for n, backup in enumerate(backups):
        done = vafa(tmp_path / f"r{n}", "restore", str(backup))  # exits non-zero if the ledger check fails
        assert "ledger check passed" in done.stdout
        entries.append(int(re.search(r"(\d+) ledger entries", done.stdout)[1]))
    assert written > 0
    assert entries == sorted(entries) and entries[0] < entries[-1]  # copies of a database that kept growing
