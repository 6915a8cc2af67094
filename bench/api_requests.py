"""The fixed cost of one API request, in-process (issue 11): the balance read and the voucher validation sent
through Django's WSGI handler (no socket, no server), with the statements each runs and the CPU each takes.
About half a minute. With `--http SECONDS` it then serves them over HTTP (and `POST /purchases`) with each of
the server setups in `--configs` in turn, in the same run (the machine is shared: compare within one run),
and reports each setup's rate, latency and CPU per request: the workers' own, and PostgreSQL's backends' when
scripts/pg.sh started the cluster (PG_DIR).

    VAFA_DATA_DIR=$(mktemp -d) python -m bench.api_requests [--repeat 2000] [--profile balance|validate]
    ... --http 8 --configs serve:2x8,gthread:2x8,serve:2x4

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

from bench.setup import django_ready


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
    parser.add_argument("--configs", default="serve:2x8",
                        help="comma-separated server setups: serve:<workers>x<threads> (vafa serve: granian), "
                             "granian:<workers>x<threads>, gthread:<workers>x<threads> (gunicorn), "
                             "sync:<workers> (gunicorn's sync workers), uwsgi:<workers>x<threads>")
    parser.add_argument("--kinds", default="balance,validate,purchase")
    parser.add_argument("--cprofile", choices=["balance", "validate"], help="cProfile on CPU time instead")
    args = parser.parse_args()
    django_ready(migrate=True)
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from bench import backend, workload
    from vafa.access.services import create_api_key
    from vafa.members.services import sign_up
    from vafa.vouchers.services import create_code, create_definition

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
                   f"{kind}_cpu_ms_mean": round(statistics.fmean(cpu_ms), 3),
                   # the median: on a shared machine the mean carries the neighbours' bursts
                   f"{kind}_cpu_ms_p50": round(statistics.median(cpu_ms), 3)}
    if args.http:
        result |= http(key, members, args)
    print(json.dumps(result, indent=1))


def cpu_of(pid: int | None) -> float:
    """CPU seconds a process's children have used (the server's workers, PostgreSQL's backends)."""
    import psutil

    total = 0.0
    if pid is None:
        return total
    for child in psutil.Process(pid).children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def postmaster() -> int | None:
    """The PostgreSQL cluster's main process, when scripts/pg.sh started it (PG_DIR)."""
    pid_file = os.path.join(os.environ.get("PG_DIR", ""), "data", "postmaster.pid")
    if not os.environ.get("VAFA_DATABASE_URL") or not os.path.exists(pid_file):
        return None
    with open(pid_file) as handle:
        return int(handle.readline())


def serve(config: str):
    """Start one setup; answers (the server process, its port)."""
    import subprocess

    from bench import backend

    worker_class, _, size = config.partition(":")
    workers, _, threads = size.partition("x")
    if worker_class == "serve":
        return backend.serve(int(workers), int(threads or 1))
    port = backend.free_port()
    command = {
        "gthread": [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", workers,
                    "--threads", threads or "1", "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
                    "--keep-alive", "5", "--log-level", "warning", "vafa.wsgi:application"],
        "sync": [sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", size,
                 "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning",
                 "vafa.wsgi:application"],
        # granian (Rust: the HTTP parsing and the connections off the Python threads)
        "granian": ["granian", "--interface", "wsgi", "--workers", workers, "--blocking-threads", threads or "1",
                    "--host", "127.0.0.1", "--port", str(port), "--backlog", "2048", "--http", "1", "--no-ws",
                    "--log-level", "warning", "vafa.wsgi:application"],
        # uWSGI (C) serving HTTP itself
        "uwsgi": ["pyuwsgi", "--http11-socket", f"127.0.0.1:{port}", "--module", "vafa.wsgi:application",
                  "--master", "--processes", workers, "--threads", threads or "1", "--disable-logging",
                  "--die-on-term"],
    }[worker_class]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backend.wait_for(server, port)
    return server, port


def http(key: str, members: list[int], args) -> dict:
    from django.db import connections

    from bench import backend

    connections.close_all()
    # one key is loaded far past the default 20,000 a minute; the lease still counts every request
    os.environ.setdefault("VAFA_API_RATE_LIMIT", "10000000")
    database = postmaster()
    result: dict = {"http_clients": args.clients, "http_seconds": args.http}
    for n, config in enumerate(args.configs.split(",")):
        server, port = serve(config)
        taken = any(key.startswith(f"{config} ") for key in result)
        name = f"{config} (run {n + 1})" if taken else config  # a setup run again in the same run (A/B/A)
        try:
            backend.load(port, key, "balance", args.clients, 2, members, [1000], "W")  # warm the workers up
            for kind in args.kinds.split(","):
                cpu, db_cpu = cpu_of(server.pid), cpu_of(database)
                got = backend.load(port, key, kind, args.clients, args.http, members, [1000, 1200, 2500],
                                   f"{name}{kind}")
                done = max(got["ok"], 1)
                result[f"{name} {kind}"] = {
                    "per_s": got["per_second"], "p50_ms": got["p50_ms"], "p99_ms": got["p99_ms"],
                    "errors": got["errors"], "server_cpu_ms": round((cpu_of(server.pid) - cpu) * 1000 / done, 2),
                    "db_cpu_ms": round((cpu_of(database) - db_cpu) * 1000 / done, 2) if database else None}
        finally:
            server.terminate()
            server.wait(30)
    return result


if __name__ == "__main__":
    main()
