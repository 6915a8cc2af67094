"""One database's part of the benchmark, in its own process (Django reads the database from the environment:
VAFA_DATA_DIR for SQLite, VAFA_DATABASE_URL for PostgreSQL). Prints one JSON object as its last line.

    python -m bench.backend [--quick] [--engine] [--pgbench] --workdir DIR
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import functools
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from zoneinfo import ZoneInfo

import psutil

from bench import workload
from bench.setup import django_ready

NEW_YORK = ZoneInfo("America/New_York")
SIZES = {"quick": {"service_seconds": 10, "http_seconds": 6, "bulk_members": 20_000, "bulk_purchases": 200_000},
         "full": {"service_seconds": 300, "http_seconds": 60, "bulk_members": 1_000_000,
                  "bulk_purchases": 10_000_000}}


def log(message: str) -> None:
    print(f"[bench {os.environ.get('BENCH_DB', '')}] {message}", file=sys.stderr, flush=True)


def measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; answer its wall time (s), its peak RSS (MB, sampled) and its output."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    peak = 0
    watched = psutil.Process(proc.pid)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout))
    reader.start()
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    reader.join()
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{''.join(output)}")
    return seconds, peak / 2**20, "".join(output)


def vafa(*args: str) -> list[str]:
    return [sys.executable, "-m", "vafa.cli", *args]


def setup_business(slug: str):
    from vafa.program.services import activate_program
    from vafa.tenancy.services import create_branch, create_business

    business = create_business(name=f"CDNOW ({slug})", slug=slug, currency="USD", timezone="America/New_York",
                               language="en", calendar="gregorian")
    create_branch(business, code="main", name="Main")
    activate_program(business, workload.PROGRAM)
    return business


# --- (1) the engine alone ---------------------------------------------------------------------------------


def engine(sales: list[workload.Sale]) -> dict:
    """Evaluate every CDNOW purchase with the engine, the snapshot kept in memory the way the service layer
    builds it from the database (tier, counts, cap totals)."""
    from vafa.program.document import parse_document
    from vafa.program.engine import (
        Activity,
        Context,
        Line,
        MemberSnapshot,
        cap_period_start,
        evaluate,
        qualified_tier,
        tier_rank,
    )

    document = parse_document(workload.PROGRAM)
    ctx = Context(timezone="America/New_York", language="en", currency="USD", calendar="gregorian")
    tier: dict[int, str] = {}
    count: dict[int, int] = collections.Counter()
    # per customer: (month start, cashback in that month) and the spend inside the tier window, kept as running
    # totals the way the database's indexed sums give them, so the harness costs O(1) per purchase
    cashback: dict[int, tuple[dt.datetime, int]] = {}
    spend: dict[int, collections.deque] = collections.defaultdict(collections.deque)
    spend_total: dict[int, int] = collections.Counter()
    window = dt.timedelta(days=document.tiers.window_days)
    started = time.perf_counter()
    for sale in sales:
        at = dt.datetime.combine(sale.day, dt.time(12), NEW_YORK)
        start = cap_period_start("month", at, ctx)
        month, month_cashback = cashback.get(sale.customer, (start, 0))
        snapshot = MemberSnapshot(tier=tier.get(sale.customer, "bronze"), purchase_count=count[sale.customer],
                                  period_totals={"gold-cashback": month_cashback if month == start else 0})
        unit = sale.cents // sale.quantity
        activity = Activity("purchase", at, branch="main", total=sale.cents,
                            lines=(Line("CD", sale.category, sale.quantity, unit * sale.quantity),))
        effects = evaluate(document, snapshot, activity, ctx)
        count[sale.customer] += 1
        earned_back = sum(e.amount for e in effects if e.kind == "cashback")
        cashback[sale.customer] = (start, (month_cashback if month == start else 0) + earned_back)
        window_spend = spend[sale.customer]
        window_spend.append((at, sale.cents))
        spend_total[sale.customer] += sale.cents
        while window_spend[0][0] <= at - window:
            spend_total[sale.customer] -= window_spend.popleft()[1]
        metric = spend_total[sale.customer]
        level = qualified_tier(document, metric)
        if level and tier_rank(document, level.code) > tier_rank(document, snapshot.tier):
            tier[sale.customer] = level.code
    seconds = time.perf_counter() - started
    return {"engine_evaluations": len(sales), "engine_per_s": round(len(sales) / seconds, 1)}


# --- (2) the service layer in-process ---------------------------------------------------------------------


def purchase_args(business, ids: dict[int, int], sale: workload.Sale, receipt: str) -> dict:
    unit = sale.cents // sale.quantity
    return {"member_id": ids[sale.customer], "branch_code": "main", "receipt": receipt, "total": sale.cents,
            "occurred_at": dt.datetime.combine(sale.day, dt.time(12), NEW_YORK),
            "lines": [{"sku": "CD", "category": sale.category, "quantity": sale.quantity, "unit_price": unit}]}


def service(business, ids: dict[int, int], sales: list[workload.Sale], seconds: float) -> tuple[dict, int]:
    """Replay CDNOW in time order through record_purchase for `seconds` (or to the end of the log)."""
    from vafa.purchases.services import record_purchase

    started = time.perf_counter()
    done = 0
    for i, sale in enumerate(sales):
        record_purchase(business, **purchase_args(business, ids, sale, f"C{i}"))
        done += 1
        if time.perf_counter() - started >= seconds:
            break
    elapsed = time.perf_counter() - started
    return {"service_purchases": done, "service_per_s": round(done / elapsed, 1),
            "service_ms_per_purchase": round(elapsed / done * 1000, 2)}, done


def query_profile(business, ids: dict[int, int], sales: list[workload.Sale], offset: int, workdir: str) -> dict:
    """Queries per purchase by kind (statement and table) over 100 replayed purchases, and a pyinstrument
    profile of them written to the work directory."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from vafa.purchases.services import record_purchase

    batch = sales[offset:offset + 100]
    kinds: collections.Counter = collections.Counter()
    with CaptureQueriesContext(connection) as captured:
        for i, sale in enumerate(batch):
            record_purchase(business, **purchase_args(business, ids, sale, f"Q{offset + i}"))
    for query in captured.captured_queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
        kinds[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    batch = sales[offset + 100:offset + 200]
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for i, sale in enumerate(batch):
        record_purchase(business, **purchase_args(business, ids, sale, f"P{offset + i}"))
    profiler.stop()
    with open(os.path.join(workdir, f"profile-{os.environ.get('BENCH_DB')}.txt"), "w") as handle:
        handle.write(profiler.output_text(show_all=False, color=False))
    n = len(sales[offset:offset + 100])
    return {"queries_per_purchase": round(len(captured.captured_queries) / n, 1),
            "queries_by_kind": {k: round(v / n, 2) for k, v in kinds.most_common()}}


# --- (3) HTTP, (4) pgbench, (6) worker memory -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workers: int, threads: int | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    more = ["--threads", str(threads)] if threads else []
    # 8 connections stand for many tills: one key's per-minute limit (20,000) would answer 429 to a load that
    # passes 333/s; the limiter still counts every request, in the same leases
    server = subprocess.Popen(vafa("serve", "--workers", str(workers), "--port", str(port), *more),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=os.environ | {"VAFA_API_RATE_LIMIT": "100000000"})
    wait_for(server, port)
    return server, port


def wait_for(server: subprocess.Popen, port: int) -> None:
    """Until the server answers on its port (killed after 90 s)."""
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1)  # the workers boot after the socket is bound
                return
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start")


class RssWatch:
    """Peak RSS of the web workers (the server's children), sampled while the load runs."""

    def __init__(self, server: subprocess.Popen):
        self.master = psutil.Process(server.pid)
        self.peak = 0
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            for child in self.master.children(recursive=True):
                try:
                    self.peak = max(self.peak, child.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return round(self.peak / 2**20, 1)


def cpu_by_process(processes: list[psutil.Process]) -> dict[int, float]:
    """User and system CPU each process has used so far (those gone meanwhile are left out)."""
    used = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        used[process.pid] = times.user + times.system
    return used


def cpu_spent(before: dict[int, float], processes: list[psutil.Process]) -> float:
    """CPU seconds the processes used since `before` (one started since counts all of its own)."""
    return sum(used - before.get(pid, 0.0) for pid, used in cpu_by_process(processes).items())


def server_processes(server: subprocess.Popen) -> list[psutil.Process]:
    master = psutil.Process(server.pid)
    return [master, *master.children(recursive=True)]


def database_processes() -> list[psutil.Process]:
    """The cluster's processes, backends started since included: scripts/pg.sh's own when it started one (PG_DIR),
    else every postgres process on the machine (other clusters' work then counts too)."""
    pid_file = os.path.join(os.environ.get("PG_DIR", ""), "data", "postmaster.pid")
    if os.path.exists(pid_file):
        with open(pid_file) as handle:
            master = psutil.Process(int(handle.readline()))
        return [master, *master.children()]
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "postmaster")]


WRK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk", "load.lua")


@functools.cache
def wrk_binary() -> str | None:
    """wrk (Debian's package), installed with apt-get when missing, as scripts/pg.sh installs PostgreSQL; None
    when it cannot be had (the load then comes from bench/loadgen.py, which says so)."""
    found = shutil.which("wrk")
    if found is None and shutil.which("apt-get"):
        log("installing wrk from Debian's packages")
        subprocess.run("apt-get update -qq && apt-get install -y -qq wrk", shell=True, check=False,
                       capture_output=True, env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("wrk")
    if found is None:
        log("wrk is missing and could not be installed: the HTTP load comes from bench/loadgen.py (Python threads, "
            "which take more of the server's CPU per request)")
    return found


def load(port: int, key: str, kind: str, clients: int, seconds: float, members: list[int], amounts: list[int],
         tag: str, server: subprocess.Popen | None = None, generator: str = "wrk") -> dict:
    """One kind's load from its own process (wrk, or bench/loadgen.py when wrk cannot be had or `generator`
    says loadgen); with the server, also the CPU each answered request cost the web workers, the database and the
    load generator itself (all on the same cores)."""
    before = (cpu_by_process(server_processes(server)) if server else {},
              cpu_by_process(database_processes()) if server else {}, resource.getrusage(resource.RUSAGE_CHILDREN))
    binary = wrk_binary() if generator == "wrk" else None
    if binary:
        got = wrk_load(binary, port, key, kind, clients, seconds, members, amounts, tag)
    else:
        out = subprocess.run([sys.executable, "-m", "bench.loadgen", "--port", str(port), "--key", key, "--kind",
                              kind, "--clients", str(clients), "--seconds", str(seconds),
                              "--members", ",".join(map(str, members)), "--amounts", ",".join(map(str, amounts)),
                              "--tag", tag], check=True, capture_output=True, text=True)
        got = json.loads(out.stdout.strip().splitlines()[-1]) | {"generator": "loadgen"}
    if server and got["ok"]:
        client = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = {"server": cpu_spent(before[0], server_processes(server)),
                 "database": cpu_spent(before[1], database_processes()),
                 "client": client.ru_utime + client.ru_stime - before[2].ru_utime - before[2].ru_stime}
        got |= {f"{name}_cpu_ms": round(1000 * value / got["ok"], 3) for name, value in spent.items()}
    return got


def wrk_load(binary: str, port: int, key: str, kind: str, clients: int, seconds: float, members: list[int],
             amounts: list[int], tag: str) -> dict:
    """bench/wrk/load.lua: `clients` keep-alive connections on one wrk thread (an event loop: one thread sends
    far more than the server answers, and the client takes a core's CPU away from the server only as it works),
    answered in bench/loadgen.py's shape. Its done() prints the figures as JSON; a non-2xx answer is an error
    (by status), as are socket errors and timeouts. Latencies are of every completed request, errors included."""
    with tempfile.NamedTemporaryFile("w", prefix="vafa-wrk-", suffix=".txt") as data:
        data.write(f"{' '.join(map(str, members))}\n{' '.join(map(str, amounts))}\n")
        data.flush()
        out = subprocess.run([binary, "-t", "1", "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
                              "--timeout", "30s", "--latency", "-H", f"Authorization: Bearer {key}",
                              "-H", "Content-Type: application/json", "-s", WRK_SCRIPT, f"http://127.0.0.1:{port}",
                              "--", kind, data.name, tag], check=True, capture_output=True, text=True).stdout
    summary = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    ok = summary["requests"] - sum(count for status, count in summary["errors"].items() if status.isdigit())
    wall = summary["duration_us"] / 1e6
    return {"kind": kind, "clients": clients, "seconds": round(wall, 2), "ok": ok, "errors": summary["errors"],
            "per_second": round(ok / wall, 1), "p50_ms": round(summary["p50_us"] / 1000, 2),
            "p95_ms": round(summary["p95_us"] / 1000, 2), "p99_ms": round(summary["p99_us"] / 1000, 2),
            "generator": "wrk"}


PGBENCH_SCRIPT = """\\set account random(1, 100000)
BEGIN;
INSERT INTO bench_entry (account_id, amount) VALUES (:account, 10);
INSERT INTO bench_balance (account_id, balance) VALUES (:account, 10)
  ON CONFLICT (account_id) DO UPDATE SET balance = bench_balance.balance + EXCLUDED.balance;
END;
"""


def pgbench(clients: int, seconds: float, workdir: str) -> dict:
    """The machine's ceiling for a minimal earn: one ledger row inserted and one balance upserted in one
    transaction, by the same number of clients, against the same cluster."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_entry, bench_balance")
        cursor.execute("CREATE TABLE bench_entry (id bigserial PRIMARY KEY, account_id bigint NOT NULL, "
                       "amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        cursor.execute("CREATE TABLE bench_balance (account_id bigint PRIMARY KEY, balance bigint NOT NULL)")
    script = os.path.join(workdir, "earn.sql")
    with open(script, "w") as handle:
        handle.write(PGBENCH_SCRIPT)
    binary = os.path.join(os.environ["PG_BIN"], "pgbench")
    out = subprocess.run([binary, "-n", "-f", script, "-c", str(clients), "-j", str(min(clients, 2)),
                          "-T", str(int(seconds)), os.environ["VAFA_DATABASE_URL"]],
                         check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_entry, bench_balance")
    return {"pgbench_tps": round(tps, 1), "pgbench_latency_ms": float(latency.group(1)) if latency else None}


def http(business, ids: dict[int, int], sales, workers: int, clients: int, seconds: float, with_pgbench: bool,
         workdir: str, threads: int | None = None, generator: str = "wrk") -> dict:
    import random

    from django.db import connections

    from vafa.access.services import create_api_key
    from vafa.vouchers.services import create_code, create_definition

    # a key per kind, as each till has its own: one key would meet its per-minute limit (VAFA_API_RATE_LIMIT)
    # once the three kinds together pass it
    keys = {kind: create_api_key(business, scope="write", name=f"bench {kind}")[1]
            for kind in ("purchase", "balance", "validate")}
    definition = create_definition(business, name="Bench 10%", kind="percent", percent=10)
    create_code(definition, "BENCH10")
    rng = random.Random(5)
    members = rng.sample(sorted(ids.values()), min(2000, len(ids)))
    amounts = [s.cents for s in rng.sample(sales, 2000) if s.cents > 0]
    if connections["default"].vendor == "postgresql":
        # statistics for tables that grew from empty seconds ago (autovacuum's analyze comes later): without them
        # the first minute's plans read a member's rows through business-wide indexes
        with connections["default"].cursor() as cursor:
            cursor.execute("ANALYZE")
    connections.close_all()
    server, port = serve(workers, threads)
    result: dict = {"http_workers": workers, "http_threads": threads, "http_clients": clients}
    try:
        watch = RssWatch(server)
        load(port, keys["balance"], "balance", clients, 2, members, amounts, "W", generator=generator)  # warm up
        for kind, name in (("purchase", "purchase"), ("balance", "balance"), ("validate", "validate")):
            log(f"HTTP {kind}: {clients} clients for {seconds} s")
            got = load(port, keys[kind], kind, clients, seconds, members, amounts, f"H{kind[0]}", server, generator)
            result["http_generator"] = got["generator"]
            result |= {f"http_{name}_per_s": got["per_second"], f"http_{name}_p50_ms": got["p50_ms"],
                       f"http_{name}_p95_ms": got["p95_ms"], f"http_{name}_p99_ms": got["p99_ms"],
                       f"http_{name}_errors": sum(got["errors"].values())}
            result |= {f"http_{name}_{part}_cpu_ms": got[f"{part}_cpu_ms"] for part in ("server", "database", "client")
                       if f"{part}_cpu_ms" in got}
            if got["errors"]:
                log(f"HTTP {kind} errors: {got['errors']}")
        result["worker_peak_rss_mb"] = watch.stop()
    finally:
        server.terminate()
        server.wait(30)
    if with_pgbench:
        log(f"pgbench: {clients} clients for {seconds} s")
        result |= pgbench(clients, seconds, workdir)
        result["http_to_pgbench_ratio"] = round(result["http_purchase_per_s"] / result["pgbench_tps"], 4)
    return result


# --- (5) bulk ---------------------------------------------------------------------------------------------


def bulk(sales, members: int, purchases: int, workdir: str) -> dict:
    from django.db import connection
    from django.test import Client

    from vafa.access.services import create_api_key

    business = setup_business("bulk")
    members_path = os.path.join(workdir, "bulk-members.csv")
    purchases_path = os.path.join(workdir, "bulk-purchases.csv")
    log(f"bulk: generating {members} members, {purchases} purchases")
    started = time.perf_counter()
    written = workload.synthetic(workload.fit(sales), members, purchases, members_path, purchases_path,
                                 end=dt.date.today() - dt.timedelta(days=1))
    generated = time.perf_counter() - started
    connection.close()
    log("bulk: importing members")
    m_seconds, m_rss, _ = measured(vafa("import", "members", members_path, "--business", "bulk"))
    log("bulk: importing purchases")
    p_seconds, p_rss, _ = measured(vafa("import", "purchases", purchases_path, "--business", "bulk"))
    log("bulk: ledger check")
    c_seconds, c_rss, output = measured(vafa("ledger", "check"))
    result = {"bulk_members": members, "bulk_purchases": written, "bulk_generate_s": round(generated, 1),
              "import_members_s": round(m_seconds, 1), "import_members_per_s": round(members / m_seconds, 1),
              "import_members_peak_rss_mb": round(m_rss, 1), "import_purchases_s": round(p_seconds, 1),
              "import_purchases_per_s": round(written / p_seconds, 1), "import_purchases_peak_rss_mb": round(p_rss, 1),
              "ledger_check_s": round(c_seconds, 1), "ledger_check_peak_rss_mb": round(c_rss, 1),
              "ledger_check_clean": "ledger check passed" in output}
    _, key = create_api_key(business, scope="read", name="bench admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    import random

    rng = random.Random(7)

    def timed(path_of, runs: int = 7) -> float:
        """Median wall time (ms) of GETs through the API, in-process (no network), different members each."""
        times = []
        for _ in range(runs):
            path = path_of(rng.randint(1, members))
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
        return round(statistics.median(times) * 1000, 2)

    from vafa.members.models import Member

    first_id = Member.objects.filter(business=business).order_by("id").values_list("id", flat=True).first()
    result["admin_search_by_mobile_ms"] = timed(lambda n: f"/api/v1/members?q=912{n:07d}")
    result["admin_find_by_phone_ms"] = timed(lambda n: f"/api/v1/members?phone=%2B98912{n:07d}")
    result["admin_member_purchases_ms"] = timed(lambda n: f"/api/v1/purchases?member_id={first_id + n - 1}")
    result["admin_member_ledger_ms"] = timed(lambda n: f"/api/v1/members/{first_id + n - 1}/ledger")
    result["admin_dashboard_totals_ms"] = dashboard_totals(business)
    result["admin_tier_distribution_ms"] = tier_distribution(business)
    return result


def _median_ms(query, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        query()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def dashboard_totals(business) -> float:
    """What an owner's dashboard shows: members, purchases and revenue in the last 30 days, points
    outstanding. There is no dashboard selector yet, so these are the aggregates it would run."""
    from django.db.models import Count, Sum
    from django.utils import timezone

    from vafa.ledger.models import Account
    from vafa.members.models import Member
    from vafa.purchases.models import Purchase

    since = timezone.now() - dt.timedelta(days=30)

    def run():
        Member.objects.filter(business=business).count()
        Purchase.objects.filter(business=business, occurred_at__gte=since).aggregate(n=Count("id"), s=Sum("total"))
        Account.objects.filter(business=business, member__isnull=False, currency="points").aggregate(s=Sum("balance"))

    return _median_ms(run)


def tier_distribution(business) -> float:
    from django.db.models import Count

    from vafa.members.models import Member

    return _median_ms(lambda: list(Member.objects.filter(business=business).values("tier").annotate(n=Count("id"))))


# --- the run ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--engine", action="store_true", help="also measure the engine alone")
    parser.add_argument("--pgbench", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    migrate_s = django_ready(migrate=True)
    from vafa.imports.services import import_members, read_lines
    from vafa.members.models import Member

    result: dict = {"migrate_s": round(migrate_s, 1)}
    sales = workload.cdnow()
    business = setup_business("cdnow")
    customers = sorted({s.customer for s in sales})
    path = os.path.join(args.workdir, f"cdnow-members-{os.environ.get('BENCH_DB')}.csv")
    workload.members_csv(path, customers)
    started = time.perf_counter()
    import_members(business, read_lines(path))
    result["cdnow_members"] = len(customers)
    result["cdnow_members_import_s"] = round(time.perf_counter() - started, 2)
    by_mobile = dict(Member.objects.filter(business=business).values_list("mobile", "id"))
    ids = {c: by_mobile[workload.mobile(c)] for c in customers}
    if args.engine:
        log("engine alone")
        result |= engine(sales)
    log("service layer: CDNOW replay")
    got, done = service(business, ids, sales, size["service_seconds"])
    result |= got
    log("query profile")
    result |= query_profile(business, ids, sales, min(done, len(sales) - 200), args.workdir)
    result |= http(business, ids, sales, args.workers, args.clients, size["http_seconds"], args.pgbench,
                   args.workdir)
    result |= bulk(sales, size["bulk_members"], size["bulk_purchases"], args.workdir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
