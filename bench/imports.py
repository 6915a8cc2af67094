"""`vafa import purchases` on its own: purchases/s and peak RSS for files of several sizes, each into a fresh
database holding the same members (docs/benchmarks.md, "Streaming import").

    python -m bench.imports --workdir DIR [--members 100000] [--sizes 100000 1000000]

SQLite by default (a fresh VAFA_DATA_DIR per size); with VAFA_DATABASE_URL set, PostgreSQL (a fresh database per
size, created beside the one named). Prints one JSON object as its last line. The peak RSS is sampled every
0.1 s by bench.backend.measured, as the full suite does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from bench.backend import log, measured, vafa


def prepare(members: int, purchases: int, workdir: str) -> int:
    """In this process (the database from the environment): migrate, the business, its members imported, and
    the purchases file written. Answers how many purchases the file holds."""
    import datetime as dt

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    django.setup()
    from django.core.management import call_command

    from bench import workload
    from bench.backend import setup_business
    from vafa.imports.services import import_members, read_lines

    call_command("migrate", interactive=False, verbosity=0)
    business = setup_business("bulk")
    members_path = os.path.join(workdir, "members.csv")
    purchases_path = os.path.join(workdir, "purchases.csv")
    written = workload.synthetic(workload.fit(workload.cdnow()), members, purchases, members_path, purchases_path,
                                 end=dt.date.today() - dt.timedelta(days=1))
    import_members(business, read_lines(members_path))
    return written


def fresh_database(url: str, name: str) -> str:
    """A new PostgreSQL database beside the one in `url`; answers its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.prepare:
        print(prepare(args.members, args.prepare, args.workdir))
        return
    postgres = os.environ.get("VAFA_DATABASE_URL", "")
    results = {"database": "postgresql" if postgres else "sqlite", "members": args.members, "runs": []}
    for size in args.sizes:
        workdir = os.path.join(args.workdir, f"{results['database']}-{size}")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        env = dict(os.environ, VAFA_DATA_DIR=workdir)
        if postgres:
            env["VAFA_DATABASE_URL"] = fresh_database(postgres, f"bench_import_{size}")
        log(f"import: preparing {size} purchases")
        written = int(subprocess.run([sys.executable, "-m", "bench.imports", "--workdir", workdir, "--members",
                                      str(args.members), "--prepare", str(size)], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
        log(f"import: importing {written} purchases")
        seconds, rss, output = measured(vafa("import", "purchases", os.path.join(workdir, "purchases.csv"),
                                             "--business", "bulk"), env=env)
        assert f"imported {written} purchases" in output, output
        check_s, _, check = measured(vafa("ledger", "check"), env=env)
        results["runs"].append({"purchases": written, "seconds": round(seconds, 1),
                                "per_s": round(written / seconds), "peak_rss_mb": round(rss, 1),
                                "ledger_check_clean": "ledger check passed" in check,
                                "ledger_check_s": round(check_s, 1)})
        log(json.dumps(results["runs"][-1]))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
