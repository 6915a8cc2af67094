"""The benchmark suite (issue #5): runs bench.backend on SQLite and on PostgreSQL (the cluster bench/run
started: PG_URL, PG_BIN), writes docs/benchmarks.md and prints every figure as one JSON object, last."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    release = Path("/etc/os-release")
    os_name = next((line.split("=", 1)[1].strip('"') for line in release.read_text().splitlines()
                    if line.startswith("PRETTY_NAME=")), platform.platform()) if release.exists() else platform.platform()
    postgres = subprocess.run([os.path.join(os.environ["PG_BIN"], "postgres"), "--version"], capture_output=True,
                              text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": f"{os_name} ({platform.release()})", "python": platform.python_version(),
            "postgresql": postgres, "sqlite": sqlite3.sqlite_version}


def backend(name: str, env: dict, args, extra: list[str]) -> dict:
    workdir = tempfile.mkdtemp(prefix=f"vafa-bench-{name}-")
    cmd = [sys.executable, "-m", "bench.backend", "--workdir", workdir, "--workers", str(args.workers),
           "--clients", str(args.clients), *(["--quick"] if args.quick else []), *extra]
    full_env = os.environ | env | {"BENCH_DB": name, "VAFA_DEBUG": "0"}
    out = subprocess.run(cmd, env=full_env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(f"the {name} benchmark failed (exit {out.returncode})")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["workdir"] = workdir
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Vafa's benchmark suite")
    parser.add_argument("--quick", action="store_true", help="a run of under five minutes")
    parser.add_argument("--workers", type=int, default=2, help="web workers (vafa serve)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (and pgbench clients)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine()
    sqlite_dir = tempfile.mkdtemp(prefix="vafa-bench-sqlite-")
    results = {"sqlite": backend("sqlite", {"VAFA_DATA_DIR": sqlite_dir}, args, ["--engine"]),
               "postgresql": backend("postgresql", {"VAFA_DATABASE_URL": os.environ["PG_URL"]}, args,
                                     ["--pgbench"])}
    figures = {"mode": "quick" if args.quick else "full", "machine": info,
               "engine_per_s": results["sqlite"].pop("engine_per_s"),
               "engine_evaluations": results["sqlite"].pop("engine_evaluations")}
    for name, result in results.items():
        for key, value in result.items():
            if key not in ("workdir",):
                figures[f"{name}_{key}"] = value
    figures["pgbench_tps"] = figures.pop("postgresql_pgbench_tps")
    figures["pgbench_latency_ms"] = figures.pop("postgresql_pgbench_latency_ms")
    figures["http_to_pgbench_ratio"] = figures.pop("postgresql_http_to_pgbench_ratio")
    figures["total_s"] = round(time.perf_counter() - started, 1)
    if not args.no_docs:
        from bench.report import write

        profiles = {name: Path(r["workdir"], f"profile-{name}.txt") for name, r in results.items()}
        write(ROOT / "docs" / "benchmarks.md", figures, profiles)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
