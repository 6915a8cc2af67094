"""PostgreSQL's own cost per API purchase (issue 11, pg-write): `POST /api/v1/purchases` sent in-process through
`vafa.wsgi.application` (a bearer key and an Idempotency-Key: a till's call), on the database VAFA_DATABASE_URL
names, then per purchase: the statements PostgreSQL ran (pg_stat_statements: calls, execution µs, buffers, WAL
records; the foreign-key checks at COMMIT are among them) and the CPU of the one backend serving them (its
/proc/<pid>/stat utime and stime). Statistics are taken (ANALYZE) and the connection opened afresh before it
measures, so the plans are those of a database that has its statistics.

    python -m bench.pg_cost [--purchases 1000] [--warm 600] [--members 200] [--top 25]

The cluster needs `-c shared_preload_libraries=pg_stat_statements` (scripts/pg.sh's pg_start passes
PG_OPTIONS on); the extension is created in the database when missing. The machine's load moves CPU time by
±30 %: compare the statement counts and buffers, or count instructions (docs/benchmarks.md, pg-write).
"""

from __future__ import annotations

import argparse
import json
import os

from bench.api_requests import environ
from bench.setup import django_ready


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--warm", type=int, default=600)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "1000000000")
    django_ready(migrate=True)
    from django.db import connection

    from bench import backend, workload
    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.wsgi import application

    assert connection.vendor == "postgresql", "set VAFA_DATABASE_URL"
    business = backend.setup_business(f"pgc{os.getpid()}")
    members = [sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)]
    _, key = create_api_key(business, scope="write", name="bench")
    statuses: list[str] = []
    sent = iter(range(10**9))

    def purchase() -> None:
        n = next(sent)
        cents = (1000, 1200, 2500)[n % 3]
        body = json.dumps({"member": {"member_id": members[n % len(members)]}, "branch": "main",
                           "receipt": f"R-{n}", "total": cents,
                           "items": [{"sku": "CD", "category": "classical" if n % 5 == 0 else "pop", "quantity": 1,
                                      "unit_price": cents}]}).encode()
        env = environ("POST", "/api/v1/purchases", key, body) | {"HTTP_IDEMPOTENCY_KEY": f"pgc-{n}"}
        response = application(env, lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()
        assert statuses[-1][:3] in ("200", "201"), statuses[-1]

    for _ in range(args.warm):
        purchase()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute("ANALYZE")
    connection.close()  # the plans made afresh, with the statistics
    for _ in range(50):
        purchase()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
        cursor.execute("SELECT pg_stat_statements_reset()")

    def cpu() -> tuple[int, int]:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]), int(fields[12])

    before = cpu()
    for _ in range(args.purchases):
        purchase()
    after = cpu()
    tick = os.sysconf("SC_CLK_TCK")
    per = args.purchases
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == pid, "the connection changed while measuring"
        cursor.execute("SELECT calls, total_exec_time, total_plan_time, shared_blks_hit, wal_records, query "
                       "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = "
                       "current_database()) AND calls > 0 AND query NOT LIKE 'SELECT pg_stat_statements_reset%%' "
                       "ORDER BY total_exec_time + total_plan_time DESC")
        rows = cursor.fetchall()
    print(json.dumps({
        "purchases": per,
        "backend_cpu_us": {"user": round((after[0] - before[0]) / tick * 1e6 / per),
                           "system": round((after[1] - before[1]) / tick * 1e6 / per)},
        "statements": round(sum(row[0] for row in rows) / per, 2),
        "execution_and_planning_us": round(sum(row[1] + row[2] for row in rows) * 1000 / per),
        "buffers_hit": round(sum(row[3] for row in rows) / per, 1),
        "wal_records": round(sum(row[4] for row in rows) / per, 1),
    }, indent=1))
    for calls, run, plan, hit, wal, query in rows[:args.top]:
        print(f"{calls / per:5.2f}/purchase  {1000 * (run + plan) / calls:7.1f} µs  {hit / calls:6.1f} buffers  "
              f"{wal / calls:4.1f} WAL  {' '.join(query.split())[:150]}")


if __name__ == "__main__":
    main()
