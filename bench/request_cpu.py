"""The web worker's CPU per API request, in-process (issue 11, api-lean): the balance read, a voucher validation
and a purchase (and its dry run) sent through `vafa.wsgi.application` with a prepared WSGI environ (a bearer key,
no cookie: a till's call), many times, on the database VAFA_DATA_DIR / VAFA_DATABASE_URL names. Reports the CPU
µs a request costs (time.process_time over rounds: the median round and the best; the machine is shared, so
compare within one run), and for a purchase the part outside the service (`purchases.services.record`).

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.request_cpu [--repeat 3000] [--routes balance,validate,purchase]
    ... --layers              each layer's own CPU (bench.purchase_request's timers) instead
    ... --cprofile ROUTE      cProfile on CPU time of that route (SORT=cumtime|tottime, TOP=60, DUMP=file)

SQLite runs inside this process, so its statements' CPU counts in the view; on PostgreSQL the server's does not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from bench.api_requests import environ
from bench.purchase_request import timed

ROUTES = ("balance", "validate", "purchase", "dry_run")
# layer → (module, owner, attribute) whose CPU it is, less that of the layers called inside it
LAYERS = {
    "handler_and_middleware": ("django.core.handlers.wsgi", "WSGIHandler", "__call__"),
    "url_resolution": ("django.core.handlers.base", "BaseHandler", "resolve_request"),
    "ninja": ("ninja.operation", "Operation", "run"),
    "auth": ("ninja.operation", "Operation", "_run_checks"),
    "input": ("ninja.operation", "Operation", "_get_values"),
    "output": ("ninja.operation", "Operation", "_result_to_response"),
    # the views' own code falls in "ninja" (a router keeps the function itself); the statements' in their callers'
    "balance_read": ("vafa.members.selectors", None, "balance_read"),
    "member_brief": ("vafa.members.selectors", None, "member_brief"),
    "voucher_service": ("vafa.vouchers.services", None, "validate"),
    "service": ("vafa.purchases.services", None, "record"),
}


def instrument(own: dict[str, float]) -> None:
    import importlib

    stack: list[float] = []
    for layer, (module_name, owner_name, attribute) in LAYERS.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        setattr(owner, attribute, timed(own, stack, layer, getattr(owner, attribute)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--routes", default="balance,validate,purchase")
    parser.add_argument("--layers", action="store_true")
    parser.add_argument("--cprofile", choices=ROUTES)
    args = parser.parse_args()
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "1000000000")  # one key far past 20,000 a minute
    from bench.setup import django_ready

    django_ready(migrate=True)
    from django.db import connection

    from bench import backend, workload
    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.vouchers.services import create_code, create_definition
    from vafa.wsgi import application

    business = backend.setup_business(f"rc{os.getpid()}")
    members = [sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)]
    _, key = create_api_key(business, scope="write", name="bench")
    create_code(create_definition(business, name="Bench 10%", kind="percent", percent=10), "BENCH10")
    statuses: list[str] = []
    receipts = iter(range(10**9))

    def request(route: str, n: int) -> None:
        member = members[n % len(members)]
        if route == "balance":
            env = environ("GET", f"/api/v1/members/{member}/balance", key)
        elif route == "validate":
            body = json.dumps({"code": "BENCH10", "member_id": member, "branch": "main", "items": [
                {"sku": "CD", "category": "pop", "quantity": 1, "unit_price": 1000 + n % 500}]}).encode()
            env = environ("POST", "/api/v1/vouchers/validate", key, body)
        else:
            cents = (1000, 1200, 2500)[n % 3]
            body = json.dumps({"member": {"member_id": member}, "branch": "main", "receipt": f"R-{next(receipts)}",
                               "total": cents, "dry_run": route == "dry_run",
                               "items": [{"sku": "CD", "category": "classical" if n % 5 == 0 else "pop",
                                          "quantity": 1, "unit_price": cents}]}).encode()
            env = environ("POST", "/api/v1/purchases", key, body)
        response = application(env, lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()
        assert statuses[-1][:3] in ("200", "201"), (statuses[-1], route)

    routes = args.routes.split(",")
    for route in routes:
        for n in range(50):
            request(route, n)  # warm: imports, the program, the key and the branch cached
    if args.cprofile:
        import cProfile
        import pstats

        profile = cProfile.Profile(time.process_time)
        profile.runcall(lambda: [request(args.cprofile, n) for n in range(args.repeat)])
        if os.environ.get("DUMP"):
            profile.dump_stats(os.environ["DUMP"])  # for pstats' callers and callees
        stats = pstats.Stats(profile).sort_stats(os.environ.get("SORT", "cumtime"))
        stats.print_stats(int(os.environ.get("TOP", "60")))
        return
    own = dict.fromkeys(LAYERS, 0.0)
    if args.layers:
        instrument(own)
    result: dict = {"database": connection.vendor, "requests": args.repeat}
    per_round = max(1, args.repeat // args.rounds)
    for route in routes:
        before = dict(own)
        rounds = []
        for _ in range(args.rounds):
            started = time.process_time()
            for n in range(per_round):
                request(route, n)
            rounds.append((time.process_time() - started) * 1e6 / per_round)
        figures = {"cpu_us_median_round": round(statistics.median(rounds)), "cpu_us_best_round": round(min(rounds))}
        if args.layers:
            spent = {layer: (own[layer] - before[layer]) * 1e6 / (per_round * args.rounds) for layer in LAYERS}
            figures["own_us"] = {layer: round(us, 1) for layer, us in spent.items() if us}
            if route in ("purchase", "dry_run"):
                figures["outside_the_service_us"] = round(sum(spent.values()) - spent["service"])
        result[route] = figures
    if not args.layers and {"purchase", "dry_run"} & set(routes):
        result["note"] = "for the part outside the service, run with --layers (the timers cost ~1 µs a call)"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
