"""The purchase hot path alone, in-process (issue 11): `record_purchase` per second, queries per purchase, and
a dry run's server time, on bench/workload.PROGRAM with CDNOW-like sales (a seeded random log, so it runs
without the `lifetimes` package). About a minute; the full suite is bench/run.

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.hotpath [--seconds 20] [--members 2000]

With `--http` (on PostgreSQL: VAFA_DATABASE_URL, PG_BIN as scripts/pg.sh sets them) it then serves the same
business with `vafa serve` (granian) and measures bench.backend.http: POST /purchases, the balance read and the voucher
validation by 8 clients (wrk's connections, or bench/loadgen.py's threads with `--generator loadgen`), and pgbench's
minimal earn beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time

from bench import backend, workload
from bench.setup import django_ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--history", type=int, default=0,
                        help="also time the tier metric and cap totals of one member with this many purchases")
    parser.add_argument("--http", action="store_true", help="also HTTP and pgbench (PostgreSQL)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="web worker processes")
    parser.add_argument("--threads", type=int, help="threads per web worker (vafa serve's default without it)")
    parser.add_argument("--generator", choices=["wrk", "loadgen"], default="wrk",
                        help="the HTTP load: wrk (installed with apt-get when missing) or bench/loadgen.py")
    args = parser.parse_args()
    django_ready(migrate=True)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vafa.members.services import sign_up
    from vafa.purchases.services import record_purchase

    sales = seeded_sales(args.members, 40_000)
    business = backend.setup_business("hot")
    ids = {c: sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)}
    cpu = time.process_time()
    result = backend.service(business, ids, sales, args.seconds)[0]
    done = result["service_purchases"]
    # CPU time of this process: SQLite runs in it, and it is less disturbed by other work on the machine
    result["service_cpu_ms_per_purchase"] = round((time.process_time() - cpu) / done * 1000, 2)
    with CaptureQueriesContext(connection) as captured:
        for i, sale in enumerate(sales[done:done + 100]):
            record_purchase(business, **backend.purchase_args(business, ids, sale, f"Q{i}"))
    result["queries_per_purchase"] = len(captured.captured_queries) / 100
    ms, cpu_ms = [], []
    for i, sale in enumerate(sales[done + 100:done + 600]):
        started, cpu = time.perf_counter(), time.process_time()
        record_purchase(business, **backend.purchase_args(business, ids, sale, f"D{i}"), dry_run=True)
        ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    result |= {"dry_run_ms_p50": round(statistics.median(ms), 3),
               "dry_run_ms_p99": round(statistics.quantiles(ms, n=100)[98], 3),
               "dry_run_cpu_ms_p50": round(statistics.median(cpu_ms), 3)}
    if args.history:
        result |= history_reads(business, args.history)
    if args.http:
        import tempfile

        result |= backend.http(business, ids, sales[done + 600:], args.workers, args.clients, args.seconds, True,
                               tempfile.mkdtemp(prefix="vafa-hotpath-"), args.threads, args.generator)
    print(json.dumps(result, indent=1))


def history_reads(business, purchases: int) -> dict:
    """One member with `purchases` purchases over three years (imported): the statement that reads what the
    program needs of their history (purchases.counters.standing: counts, cap totals, 365-day tier metric), and,
    beside it, the aggregate over their purchases that the tier metric was before the counters, in ms."""
    from django.db.models import Sum

    from vafa.imports.services import import_purchases
    from vafa.members.services import sign_up
    from vafa.program import cache
    from vafa.program.selectors import context_of
    from vafa.purchases import counters
    from vafa.purchases.models import Purchase

    member = sign_up(business, mobile=workload.mobile(10**6), first_name="H")
    now = dt.datetime.now(dt.UTC)
    lines = ["receipt,mobile,branch,occurred_at,total"] + [
        f"H{i},{member.mobile},main,{(now - dt.timedelta(minutes=i * 1577 % (3 * 525_600))).isoformat()},{1_000 + i}"
        for i in range(purchases)]
    import_purchases(business, lines)
    document = cache.setup_of(business).document
    ctx = context_of(business)

    def aggregate() -> int:
        start = now - dt.timedelta(days=365)
        return Purchase.objects.filter(business=business, member=member, status__in=Purchase.COUNTED,
                                       occurred_at__gt=start, occurred_at__lte=now).aggregate(n=Sum("spend"))["n"]

    def timed(read) -> float:
        runs = []
        for _ in range(21):
            started = time.perf_counter()
            read()
            runs.append((time.perf_counter() - started) * 1000)
        return round(statistics.median(runs), 3)

    assert counters.standing(member, document, now, ctx).tier_metric == aggregate()
    return {"history_purchases": purchases,
            "history_counters_standing_ms": timed(lambda: counters.standing(member, document, now, ctx)),
            "history_old_tier_aggregate_ms": timed(aggregate)}


def seeded_sales(members: int, count: int) -> list[workload.Sale]:
    """CDNOW-like: a few purchases a member over two years, $5 to $200, one to three items, in time order."""
    rng = random.Random(11)
    sales = []
    for _ in range(count):
        quantity = rng.randint(1, 3)
        sales.append(workload.Sale(rng.randrange(members), workload.START + dt.timedelta(days=rng.randrange(700)),
                                   quantity, (int(rng.lognormvariate(7.6, 0.7)) + 500) // quantity * quantity))
    return sorted(sales, key=lambda sale: (sale.day, sale.customer))


if __name__ == "__main__":
    main()
