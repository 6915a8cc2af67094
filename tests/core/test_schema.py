"""The fast path for an empty database (vafa.core.schema.migrate) gives exactly what applying every migration
gives: the same tables, columns, indexes, constraints and foreign keys, the same rows (content types,
permissions), and every migration recorded as applied — so a later `migrate` goes on from it as usual."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(data_dir: Path, code: str) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "VAFA_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "vafa.settings"}
    env.pop("VAFA_DATABASE_URL", None)
    subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env, check=True,
                   timeout=900)


def _described(path: Path) -> dict:
    db = sqlite3.connect(path)
    out: dict = {}
    tables = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for table in tables:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
        columns = sorted(row[1:] for row in db.execute(f'PRAGMA table_info("{table}")'))  # in any order
        names = ", ".join(f'"{column[0]}"' for column in columns)
        out[table] = {
            "columns": columns,
            "checks": sorted(re.findall(r'CONSTRAINT "[^"]+" CHECK \(.*?\)(?=, CONSTRAINT|\)$)', sql)),
            "foreign_keys": sorted(row[2:] for row in db.execute(f'PRAGMA foreign_key_list("{table}")')),
            "indexes": sorted((name, unique, partial, tuple(column for _, _, column in db.execute(
                f'PRAGMA index_info("{name}")'))) for _, name, unique, _, partial in db.execute(
                f'PRAGMA index_list("{table}")')),
            "rows": sorted(db.execute(f'SELECT app, name FROM "{table}"') if table == "django_migrations"
                           else db.execute(f'SELECT {names} FROM "{table}"'), key=repr),
        }
    out["index_sql"] = sorted(sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    return out


def test_an_empty_database_built_in_one_pass_equals_every_migration_applied(tmp_path):
    migrated, built = tmp_path / "migrated", tmp_path / "built"
    _run(migrated, "from django.core.management import call_command; call_command('migrate', verbosity=0)")
    _run(built, "from vafa.core.schema import migrate; assert migrate(); assert not migrate()")
    expected, got = _described(migrated / "vafa.sqlite3"), _described(built / "vafa.sqlite3")
    assert sorted(got) == sorted(expected)
    for table in expected:
        assert got[table] == expected[table], table
    assert len(expected["django_migrations"]["rows"]) > 80
    assert expected["auth_permission"]["rows"]  # the post-migrate signals ran on both
