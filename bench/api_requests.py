"""The fixed cost of one API request, in-process (issue 11): the balance read and the voucher validation sent
through Django's WSGI handler (no socket, no server), with the statements each runs and the CPU each takes.
About half a minute; the HTTP figures come from `python -m bench.hotpath --http`.

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.api_requests [--repeat 2000] [--profile balance|validate]

With `--profile` it prints pyinstrument's tree of that request instead of the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time


def environ(method: str, path: str, key: str, body: bytes = b"") -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_AUTHORIZATION": f"Bearer {key}", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--profile", choices=["balance", "validate"])
    parser.add_argument("--http", type=float, metavar="SECONDS",
                        help="then serve with `vafa serve` and load each for SECONDS with bench.loadgen")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="threads per worker (default: vafa serve's)")
    parser.add_argument("--cprofile", choices=["balance", "validate"], help="cProfile on CPU time instead")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    os.environ.setdefault("VAFA_DEBUG", "0")
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection

    from bench import backend, workload
    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.vouchers.services import create_code, create_definition

    call_command("migrate", interactive=False, verbosity=0)
    business = backend.setup_business(f"req{os.getpid()}")
    members = [sign_up(business, mobile=workload.mobile(c), first_name="C").pk for c in range(args.members)]
    _, key = create_api_key(business, scope="write", name="bench")
    create_code(create_definition(business, name="Bench 10%", kind="percent", percent=10), "BENCH10")
    handler = WSGIHandler()
    statuses: list[str] = []

    def start_response(status, headers):
        statuses.append(status)

    def request(kind: str, n: int):
        member = members[n % len(members)]
        if kind == "balance":
            env = environ("GET", f"/api/v1/members/{member}/balance", key)
        else:
            body = json.dumps({"code": "BENCH10", "member_id": member, "branch": "main", "items": [
                {"sku": "CD", "category": "pop", "quantity": 1, "unit_price": 1000 + n % 500}]}).encode()
            env = environ("POST", "/api/v1/vouchers/validate", key, body)
        response = handler(env, start_response)
        b"".join(response)
        response.close()
        assert statuses[-1].startswith("200"), (statuses[-1], kind)

    if args.cprofile:
        import cProfile
        import pstats

        for n in range(50):
            request(args.cprofile, n)
        profile = cProfile.Profile(time.process_time)
        profile.runcall(lambda: [request(args.cprofile, n) for n in range(args.repeat)])
        pstats.Stats(profile).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "45")))
        return
    if args.profile:
        from pyinstrument import Profiler

        for n in range(50):
            request(args.profile, n)
        with Profiler(interval=0.0001) as profiler:
            for n in range(args.repeat):
                request(args.profile, n)
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    result: dict = {"database": connection.vendor}
    for kind in ("balance", "validate"):
        for n in range(20):
            request(kind, n)  # warm: imports, the program and the key cached
        captured: list[str] = []

        def record(execute, sql, params, many, context, captured=captured):
            captured.append(sql)
            return execute(sql, params, many, context)

        # Not CaptureQueriesContext: the handler's request_started signal empties the connection's query log.
        with connection.execute_wrapper(record):
            request(kind, 1)
        ms, cpu_ms = [], []
        for n in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            request(kind, n)
            ms.append((time.perf_counter() - started) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
        result |= {f"{kind}_statements": len(captured), f"{kind}_sql": [sql[:120] for sql in captured],
                   f"{kind}_ms_p50": round(statistics.median(ms), 3),
                   f"{kind}_ms_p99": round(statistics.quantiles(ms, n=100)[98], 3),
                   f"{kind}_cpu_ms_mean": round(statistics.fmean(cpu_ms), 3)}
    if args.http:
        result |= http(key, members, args)
    print(json.dumps(result, indent=1))


def http(key: str, members: list[int], args) -> dict:
    import psutil
    from django.db import connections

    from bench import backend

    def server_cpu() -> float:
        """CPU seconds the workers have used: the machine is shared, so throughput alone says little."""
        total = 0.0
        for child in psutil.Process(server.pid).children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    connections.close_all()
    # one key is loaded far past the default 20,000 a minute; the lease still counts every request
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "10000000")
    server, port = backend.serve(args.workers, args.threads)
    result: dict = {"http_workers": args.workers, "http_threads": args.threads, "http_clients": args.clients}
    try:
        backend.load(port, key, "balance", args.clients, 2, members, [1000], "W")  # warm the workers up
        for kind in ("balance", "validate"):
            cpu = server_cpu()
            got = backend.load(port, key, kind, args.clients, args.http, members, [1000, 1200, 2500], "R")
            result |= {f"http_{kind}_per_s": got["per_second"], f"http_{kind}_p50_ms": got["p50_ms"],
                       f"http_{kind}_p99_ms": got["p99_ms"], f"http_{kind}_errors": got["errors"],
                       f"http_{kind}_server_cpu_ms": round((server_cpu() - cpu) * 1000 / max(got["ok"], 1), 2)}
    finally:
        server.terminate()
        server.wait(30)
    return result


if __name__ == "__main__":
    main()
