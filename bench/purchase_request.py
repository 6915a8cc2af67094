"""What `POST /api/v1/purchases` costs around the service (issue 11), in-process: purchases (and dry runs) sent
through vafa.wsgi's application with an API key and no cookie, the CPU of each request split by layer. Each
layer's functions are wrapped by a timer of process CPU (time.process_time; about a microsecond a call), so the
figures are the request's own, not a profiler's. SQLite runs inside this process (its CPU falls in the
service); on PostgreSQL (VAFA_DATABASE_URL) the server's CPU is not counted. Each layer's figure is its own:
the CPU of the layers it calls is counted in theirs.

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.purchase_request [--repeat 2000] [--dry-run] [--bound]
    ... --cprofile FILE   (cProfile on CPU time of the same loop, written to FILE)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

from bench.api_requests import environ

# layer → (module, owner, attribute) of the function whose CPU it is, less that of the layers called inside it
LAYERS = {
    "request": ("django.core.handlers.wsgi", "WSGIHandler", "__call__"),  # Django's handler and middleware
    "ninja": ("ninja.operation", "Operation", "run"),  # Ninja's own, and the view's between the layers below
    "auth": ("ninja.operation", "Operation", "_run_checks"),
    "rate_limit": ("vafa.api.auth", None, "_count_request"),
    "input": ("ninja.operation", "Operation", "_get_values"),
    "member_and_branch": ("vafa.purchases.api", None, "resolve_member"),
    "branch": ("vafa.purchases.api", None, "_branch_allowed"),
    "service": ("vafa.purchases.services", None, "record_purchase"),
    "output": ("ninja.operation", "Operation", "_result_to_response"),
    "problem": ("ninja.main", "NinjaAPI", "on_exception"),
    # PostgreSQL: the request's first statement is Django's health check of the kept connection (a SELECT 1)
    "connection_check": ("django.db", "connection", "close_if_health_check_failed"),
}


def timed(own: dict[str, float], stack: list[float], layer: str, function):
    """`function` counting its CPU into own[layer], less what the timed layers it calls take."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        stack.append(0.0)  # the CPU of the timed layers inside this call
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.process_time() - started
            own[layer] += spent - stack.pop()
            if stack:
                stack[-1] += spent
    return wrapper


def instrument(own: dict[str, float]) -> None:
    import importlib

    stack: list[float] = []
    for layer, (module_name, owner_name, attribute) in LAYERS.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        if owner_name == "connection":
            owner = type(owner._connections[owner._alias])  # the backend's class, not Django's proxy
        if hasattr(owner, attribute):
            setattr(owner, attribute, timed(own, stack, layer, getattr(owner, attribute)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--bound", action="store_true", help="a key bound to the branch (a till's)")
    parser.add_argument("--cprofile", metavar="FILE")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    os.environ.setdefault("VAFA_DEBUG", "0")
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "10000000")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import backend, workload
    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.wsgi import application

    call_command("migrate", interactive=False, verbosity=0)
    business = backend.setup_business(f"pr{os.getpid()}")
    members = [sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)]
    branch = business.branches.get(code="main") if args.bound else None
    _, key = create_api_key(business, scope="write", branch=branch, name="bench")
    statuses: list[str] = []
    expected = "200" if args.dry_run else "201"

    def request(n: int) -> None:
        cents = (1000, 1200, 2500)[n % 3]
        body = json.dumps({"member": {"member_id": members[n % len(members)]}, "branch": "main",
                           "receipt": f"B-{n}", "total": cents, "dry_run": args.dry_run,
                           "items": [{"sku": "CD", "category": "classical" if n % 5 == 0 else "pop",
                                      "quantity": 1, "unit_price": cents}]}).encode()
        response = application(environ("POST", "/api/v1/purchases", key, body),
                               lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()
        assert statuses[-1].startswith(expected), statuses[-1]

    for n in range(50):
        request(10_000_000 + n)  # warm: imports, the program, the key and the branch cached
    if args.cprofile:
        import cProfile

        profile = cProfile.Profile(time.process_time)
        profile.runcall(lambda: [request(n) for n in range(args.repeat)])
        profile.dump_stats(args.cprofile)
        return
    own = dict.fromkeys(LAYERS, 0.0)
    instrument(own)
    cpu = time.process_time()
    for n in range(args.repeat):
        request(n)
    total = time.process_time() - cpu
    per = {layer: seconds * 1000 / args.repeat for layer, seconds in own.items()}
    per["member_and_branch"] += per.pop("branch")
    print(json.dumps({"database": connection.vendor, "dry_run": args.dry_run, "bound": args.bound,
                      "requests": args.repeat,
                      "cpu_ms_per_request": round(total * 1000 / args.repeat, 3),
                      "around_the_service_ms": round(total * 1000 / args.repeat - per["service"], 3),
                      "own_ms": {layer: round(ms, 3) for layer, ms in per.items()}}, indent=1))


if __name__ == "__main__":
    main()
