"""The purchase hot path alone, in-process (issue 11): `record_purchase` per second replaying CDNOW, queries per
purchase, and a dry run's server time. Quick (about a minute); the full suite is bench/run.

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.hotpath [--seconds 20] [--members 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import django

from bench import backend, workload


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--members", type=int, default=3_000, help="the first CDNOW customers replayed")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    os.environ.setdefault("VAFA_DEBUG", "0")
    django.setup()
    from django.core.management import call_command

    from vafa.members.services import sign_up
    from vafa.purchases.services import record_purchase

    call_command("migrate", interactive=False, verbosity=0)
    customers = sorted({sale.customer for sale in workload.cdnow()})[:args.members]
    kept = set(customers)
    sales = [sale for sale in workload.cdnow() if sale.customer in kept]
    business = backend.setup_business("hot")
    ids = {c: sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in customers}
    result = backend.service(business, ids, sales, args.seconds)[0]
    done = result["service_purchases"]
    result |= backend.query_profile(business, ids, sales, done, os.environ["VAFA_DATA_DIR"])
    ms = []
    for i, sale in enumerate(sales[done + 200:done + 700]):
        started = time.perf_counter()
        record_purchase(business, **backend.purchase_args(business, ids, sale, f"D{i}"), dry_run=True)
        ms.append((time.perf_counter() - started) * 1000)
    result |= {"dry_run_ms_p50": round(statistics.median(ms), 3),
               "dry_run_ms_p99": round(statistics.quantiles(ms, n=100)[98], 3)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
