"""The two HTTP load generators side by side (issue 11): wrk (bench/wrk/load.lua) and bench/loadgen.py (Python
threads), alternated on one server and one business in the same run, at each client count, for each kind; prints
each one's rate, latency and the CPU a request cost the web workers, the database and the generator itself.

    VAFA_DATABASE_URL=… python -m bench.generators [--seconds 8] [--clients 2,8] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os

from bench import backend, workload
from bench.setup import django_ready

KINDS = ("purchase", "balance", "validate")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--clients", default="2,8", help="comma-separated client counts")
    parser.add_argument("--rounds", type=int, default=2, help="each generator this many times, alternated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads per web worker (vafa serve's default without it)")
    args = parser.parse_args()
    django_ready(migrate=True)
    from django.db import connections

    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.vouchers.services import create_code, create_definition

    business = backend.setup_business(f"generators{os.getpid()}")
    members = [sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)]
    keys = {kind: create_api_key(business, scope="write", name=f"bench {kind}")[1] for kind in KINDS}
    create_code(create_definition(business, name="Bench 10%", kind="percent", percent=10), "BENCH10")
    amounts = [1177, 1200, 2500, 4999]
    connections.close_all()
    # each kind's key is loaded several times a minute here, past the default limit; the lease still counts
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "10000000")
    server, port = backend.serve(args.workers, args.threads)
    try:
        backend.load(port, keys["balance"], "balance", 8, 2, members, amounts, "W")  # warm the workers up
        for round_ in range(args.rounds):
            for clients in map(int, args.clients.split(",")):
                for generator in ("loadgen", "wrk"):
                    for kind in KINDS:
                        got = backend.load(port, keys[kind], kind, clients, args.seconds, members, amounts,
                                           f"G{round_}{clients}{generator[0]}", server, generator)
                        print(json.dumps({"round": round_ + 1, "clients": clients} | got), flush=True)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
