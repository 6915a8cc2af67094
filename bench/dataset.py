"""The large data set the back office's and the till's benchmarks run against (issues 14–16): a Persian café
(Toman, Jalali, Asia/Tehran) on bench/workload.PROGRAM with a million members joining over a year and a few
million purchases, generated with CDNOW's behaviour (bench/workload.synthetic) and loaded through Vafa's own
`vafa import members` / `vafa import purchases`. Built once into VAFA_DATA_DIR (or VAFA_DATABASE_URL) and reused:
a second run finds the business and only prints what is there.

    VAFA_DATA_DIR=/tmp/vafa-1m python3 -m bench.dataset [--members 1000000] [--purchases 3000000] [--days 365]

Needs the CDNOW log of the `lifetimes` package (the `bench` extra). Prints one JSON object: sizes and timings."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time

from bench import workload
from bench.backend import log, measured, vafa
from bench.setup import django_ready

SLUG = "bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=3_000_000)
    parser.add_argument("--days", type=int, default=365, help="the history's span, ending yesterday")
    args = parser.parse_args()
    django_ready(migrate=True)
    from django.db import connection

    from vafa.members.models import Member
    from vafa.program.services import activate_program
    from vafa.purchases.models import Purchase
    from vafa.tenancy.models import Business
    from vafa.tenancy.services import create_branch, create_business

    result: dict = {}
    business = Business.objects.filter(slug=SLUG).first()
    if business is None:
        business = create_business(name="کافه بنچ", slug=SLUG)
        create_branch(business, code="main", name="شعبه اصلی")
        activate_program(business, workload.PROGRAM)
        workdir = tempfile.mkdtemp(prefix="vafa-dataset-")
        members_path, purchases_path = (os.path.join(workdir, f) for f in ("members.csv", "purchases.csv"))
        log(f"generating {args.members} members, about {args.purchases} purchases over {args.days} days")
        started = time.perf_counter()
        written = workload.synthetic(workload.fit(workload.cdnow()), args.members, args.purchases, members_path,
                                     purchases_path, end=dt.date.today() - dt.timedelta(days=1),
                                     span_days=args.days, join_days=args.days)
        result["generate_s"] = round(time.perf_counter() - started, 1)
        connection.close()
        for kind, path, rows in (("members", members_path, args.members), ("purchases", purchases_path, written)):
            log(f"importing {kind}")
            seconds, rss, _ = measured(vafa("import", kind, path, "--business", SLUG))
            result |= {f"import_{kind}_s": round(seconds, 1), f"import_{kind}_per_s": round(rows / seconds, 1),
                       f"import_{kind}_peak_rss_mb": round(rss, 1)}
            os.remove(path)
    result["members"] = Member.objects.filter(business=business).count()
    result["purchases"] = Purchase.objects.filter(business=business).count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
