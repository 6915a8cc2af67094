"""The secret key and private files (issue 10): a key is generated into the data directory on first start
(mode 0600) and reused, never the published one; the data directory is 0700, the database and backups 0600."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vafa import settings as vafa_settings
from vafa.core.files import private_dir, private_file

SRC = Path(__file__).resolve().parents[2] / "src"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("VAFA_SECRET_KEY", raising=False)
    monkeypatch.setattr(vafa_settings, "DATA_DIR", tmp_path / "data")
    return tmp_path / "data"


def test_a_key_is_generated_once_with_mode_0600_and_reused(data_dir):
    first = vafa_settings._secret_key()
    assert len(first) >= 50 and first != vafa_settings.PUBLISHED_SECRET_KEY
    assert (data_dir / "secret_key").read_text().strip() == first
    assert mode(data_dir / "secret_key") == 0o600 and mode(data_dir) == 0o700
    assert vafa_settings._secret_key() == first  # the next start: the same key, sessions survive a restart
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary file left


def test_a_configured_key_wins_and_nothing_is_written(data_dir, monkeypatch):
    monkeypatch.setenv("VAFA_SECRET_KEY", "k" * 60)
    assert vafa_settings._secret_key() == "k" * 60
    assert not data_dir.exists()


def test_a_readable_key_file_is_made_private(data_dir):
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    (data_dir / "secret_key").write_text("an-old-key-" + "x" * 50)
    os.chmod(data_dir / "secret_key", 0o644)
    assert vafa_settings._secret_key() == "an-old-key-" + "x" * 50
    assert mode(data_dir / "secret_key") == 0o600 and mode(data_dir) == 0o700


def test_private_file_is_never_readable_by_others(tmp_path):
    os.umask(0o022)
    path = private_file(tmp_path / "f")
    assert mode(path) == 0o600
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700


def _vafa(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("VAFA_SECRET_KEY", "VAFA_DATABASE_URL")}
    environ.update(VAFA_DATA_DIR=str(data_dir), PYTHONPATH=str(SRC), **env)
    return subprocess.run([sys.executable, "-m", "vafa.cli", *args], env=environ, capture_output=True, text=True,
                          timeout=120)


def test_a_fresh_start_makes_the_data_dir_0700_and_the_database_0600(tmp_path):
    data = tmp_path / "fresh"
    done = _vafa(data, "migrate", "--verbosity", "0")
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    assert mode(data / "vafa.sqlite3") == 0o600 and mode(data / "secret_key") == 0o600
    assert all(mode(p) & 0o077 == 0 for p in data.iterdir()), {p.name: oct(mode(p)) for p in data.iterdir()}


def test_check_deploy_flags_the_published_key(tmp_path):
    flagged = _vafa(tmp_path / "a", "check", "--deploy", VAFA_SECRET_KEY=vafa_settings.PUBLISHED_SECRET_KEY)
    assert "vafa.W001" in flagged.stderr + flagged.stdout
    generated = _vafa(tmp_path / "b", "check", "--deploy")
    assert "vafa.W001" not in generated.stderr + generated.stdout
