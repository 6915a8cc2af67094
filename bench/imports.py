"""`vafa import purchases` (or, with `--kind members`, `vafa import members`) on its own: rows/s and peak RSS
for files of several sizes, each into a fresh database (holding the same members, for purchases)
(docs/benchmarks.md, "Streaming import").

    python -m bench.imports --workdir DIR [--kind members] [--members 50000] [--sizes 100000 1000000] \
        [--code NAME=SRC ...]

With `--kind members` each size is a members file of that many synthetic members (30% with an opening points
balance, as bench.workload writes them) imported into a database holding only the business.

Each size is prepared once (members imported, the purchases file written); each version of the code (`--code
before=/tmp/old/src after=src`, the importer taken from that source tree) then imports the same file into its
own copy of that database and `vafa ledger check` runs on the result. SQLite by default; with VAFA_DATABASE_URL
set, PostgreSQL (databases created beside the one named, the copies from a template). Wall seconds, CPU seconds
and the kernel's peak RSS of the import process; on a shared machine the CPU figures and the ratios between
versions measured in one run are the ones to read. Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from bench.backend import log, vafa
from bench.setup import django_ready


def prepare(members: int, purchases: int, workdir: str) -> int:
    """In this process (the database from the environment): migrate, the business, its members imported, and
    the purchases file written. Answers how many purchases the file holds."""
    import datetime as dt

    django_ready(migrate=True)
    from bench import workload
    from bench.backend import setup_business
    from vafa.imports.services import import_members, read_lines

    business = setup_business("bulk")
    members_path = os.path.join(workdir, "members.csv")
    purchases_path = os.path.join(workdir, "purchases.csv")
    written = workload.synthetic(workload.fit(workload.cdnow()), members, purchases, members_path, purchases_path,
                                 end=dt.date.today() - dt.timedelta(days=1))
    import_members(business, read_lines(members_path))
    return written


def prepare_members(members: int, workdir: str) -> int:
    """In this process: migrate, the business, and a members file of `members` rows (no member imported)."""
    import csv
    import datetime as dt
    import random

    django_ready(migrate=True)
    from bench import workload
    from bench.backend import setup_business

    setup_business("bulk")
    rng = random.Random(5)
    start = dt.date.today() - dt.timedelta(days=540)
    with open(os.path.join(workdir, "members.csv"), "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["mobile", "first_name", "last_name", "email", "points", "joined_at"])
        for i in range(1, members + 1):
            out.writerow([workload.mobile(i), f"M{i}", "Synthetic", f"m{i}@example.com" if i % 4 == 0 else "",
                          rng.randint(1, 2000) if rng.random() < 0.3 else 0,
                          (start + dt.timedelta(days=rng.randrange(540))).isoformat()])
    return members


def run(cmd: list[str], env: dict) -> dict:
    """Run a command to its end: wall and CPU seconds and its exact peak RSS (the kernel's, not sampled)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    return {"seconds": time.perf_counter() - started, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "output": output}


def database(url: str, name: str, template: str | None = None) -> str:
    """A new PostgreSQL database beside the one in `url` (a copy of `template`); answers its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--code", nargs="+", default=[f"now={os.path.abspath('src')}"],
                        help="NAME=SRC_DIR for each version of the importer to measure on the same data")
    parser.add_argument("--kind", choices=["purchases", "members"], default="purchases")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.prepare:
        print(prepare_members(args.prepare, args.workdir) if args.kind == "members"
              else prepare(args.members, args.prepare, args.workdir))
        return
    postgres = os.environ.get("VAFA_DATABASE_URL", "")
    results: dict = {"database": "postgresql" if postgres else "sqlite", "kind": args.kind, "members": args.members,
                     "load_average": os.getloadavg()[0], "runs": []}
    for size in args.sizes:
        workdir = os.path.join(args.workdir, f"{results['database']}-{size}")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        env = dict(os.environ, VAFA_DATA_DIR=workdir)
        prepared = f"bench_import_{size}"
        if postgres:
            env["VAFA_DATABASE_URL"] = database(postgres, prepared)
        log(f"import: preparing {size} {args.kind}")
        written = int(subprocess.run([sys.executable, "-m", "bench.imports", "--workdir", workdir, "--members",
                                      str(args.members), "--kind", args.kind, "--prepare", str(size)], env=env,
                                     check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
        for version in args.code:
            name, src = version.split("=", 1)
            copy = os.path.join(workdir, name)
            os.makedirs(copy)
            for file in ("vafa.sqlite3", "secret_key"):
                if os.path.exists(os.path.join(workdir, file)):
                    shutil.copy(os.path.join(workdir, file), copy)
            there = dict(env, VAFA_DATA_DIR=copy, PYTHONPATH=src)
            if postgres:
                there["VAFA_DATABASE_URL"] = database(postgres, f"{prepared}_{name}", template=prepared)
            log(f"import: {name}: importing {written} {args.kind}")
            got = run(vafa("import", args.kind, os.path.join(workdir, f"{args.kind}.csv"), "--business", "bulk"),
                      there)
            assert f"imported {written} {args.kind}" in got["output"], got["output"]
            check = run(vafa("ledger", "check"), there)
            results["runs"].append({"code": name, "rows": written, "seconds": round(got["seconds"], 1),
                                    "per_s": round(written / got["seconds"]), "cpu_s": round(got["cpu_s"], 1),
                                    "per_cpu_s": round(written / got["cpu_s"]),
                                    "peak_rss_mb": round(got["peak_rss_mb"], 1),
                                    "ledger_check_clean": "ledger check passed" in check["output"]})
            log(json.dumps(results["runs"][-1]))
            if not postgres:
                os.remove(os.path.join(copy, "vafa.sqlite3"))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
