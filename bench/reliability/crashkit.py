"""Crash-safety harness shared by tests/reliability/test_crash.py (a few hundred purchases) and
bench/reliability/crash.py (thousands): the real `vafa serve` and `vafa worker` as subprocesses, SIGKILLed in
the middle of a load and restarted; a client that retries what got no answer; a webhook receiver on loopback
that dedupes by event id."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROGRAM = {"rules": [{"id": "base", "kind": "earn", "per": 1000, "award": 1}]}
PER, AWARD = 1000, 1
SLUG = "crash"
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_database(data_dir: Path):
    """The environment for vafa subprocesses on a database of their own: SQLite in data_dir, or, when
    VAFA_DATABASE_URL points at PostgreSQL, a new database on that server, dropped at the end."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["VAFA_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["VAFA_WEBHOOKS_ALLOW_PRIVATE"] = "1"  # the receivers listen on loopback
    # this checkout's code, whichever checkout pip last installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    url = env.get("VAFA_DATABASE_URL", "")
    if not url.startswith("postgres"):
        env.pop("VAFA_DATABASE_URL", None)
        yield env
        return
    import psycopg

    name = f"vafa_crash_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["VAFA_DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path="/" + name))
    try:
        yield env
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def vafa(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vafa.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


SETUP = f"""
from vafa.access.services import create_api_key
from vafa.program.services import activate_program
from vafa.tenancy.services import create_branch, create_business
business = create_business(name="Crash", slug="{SLUG}")
create_branch(business, code="t1", name="Till")
activate_program(business, {PROGRAM!r})
print(create_api_key(business, scope="admin", name="crash client")[1])
"""


def prepare(env: dict) -> str:
    """Migrate, then one business (branch t1, a linear program) and an admin key, made through the services in
    one `vafa shell` (each command start costs seconds). Answers the key."""
    done = vafa(env, "migrate", "--verbosity", "0")
    assert done.returncode == 0, done.stderr
    done = vafa(env, "shell", "-c", SETUP)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class Process:
    """A vafa subprocess that is always killed at the end (a context manager)."""

    def __init__(self, env: dict, *args: str):
        self.env, self.args, self.proc = env, args, None

    def start(self) -> "Process":
        self.proc = subprocess.Popen([sys.executable, "-m", "vafa.cli", *self.args], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


class Server(Process):
    def __init__(self, env: dict, port: int):
        super().__init__(env, "serve", "--port", str(port))
        self.base = f"http://127.0.0.1:{port}/api/v1"

    def start(self) -> "Server":
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/openapi.json", timeout=2).read()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert self.proc.poll() is None, "the server exited"
                time.sleep(0.1)
        raise TimeoutError("the server did not answer within 60 s")


def call(base: str, key: str, method: str, path: str, body=None, idem: str | None = None, timeout: float = 30):
    """(status, json body), or None when no answer came (connection refused or cut)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException):
        return None
    try:
        # a server killed after its status line leaves an empty or cut body: that is no answer either
        return (status, json.loads(raw)) if raw else None
    except json.JSONDecodeError:
        return None


@dataclass
class Load:
    """`purchases` POSTs (with Idempotency-Keys) spread over `members` members."""

    members: int
    purchases: int
    member_ids: list[int] = field(default_factory=list)

    def body(self, i: int) -> dict:
        return {"member": {"member_id": self.member_ids[i % self.members]}, "branch": "t1", "receipt": f"R-{i}",
                "total": 1000 + (i * 7919) % 50_000}

    def expected_points(self) -> dict[int, int]:
        """What a clean run gives: the program is linear, so each member's points are the sum of their earnings."""
        points = dict.fromkeys(self.member_ids, 0)
        for i in range(self.purchases):
            points[self.member_ids[i % self.members]] += self.body(i)["total"] // PER * AWARD
        return points


def sign_up_members(server: Server, key: str, load: Load) -> None:
    for n in range(load.members):
        answer = call(server.base, key, "POST", "/members", {"mobile": f"0912{n:07d}"}, idem=f"m-{n}")
        assert answer is not None and answer[0] == 201, answer
        load.member_ids.append(answer[1]["id"])


def post_purchases(base: str, key: str, load: Load, indices: list[int], answers: dict, threads: int = 4) -> None:
    """Post the purchases; answers[i] = (status, body) for those that got an answer."""

    def one(i: int) -> None:
        answer = call(base, key, "POST", "/purchases", load.body(i), idem=f"p-{i}")
        if answer is not None:
            answers[i] = answer

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, indices))


def run_with_kills(env: dict, key: str, load: Load, kills: int, before=None) -> dict:
    """Post the load, SIGKILLing the server `kills` times while requests are in flight; restart and retry what
    got no answer until everything has one. Returns the answers and how many retries were needed."""
    port = free_port()
    answers: dict[int, tuple] = {}
    retried = 0
    with Server(env, port) as server:
        server.start()
        if before is not None:
            before(server)
        sign_up_members(server, key, load)
        pending = list(range(load.purchases))
        for round_ in range(kills + 1):
            if round_:
                retried += len(pending)
            target = len(answers) + max(1, len(pending) // (kills + 1 - round_) // 2)

            def killer(target=target):
                while len(answers) < target and server.proc.poll() is None:
                    time.sleep(0.005)
                server.kill()

            thread = threading.Thread(target=killer) if round_ < kills else None
            if thread:
                thread.start()
            post_purchases(server.base, key, load, pending, answers)
            if thread:
                thread.join()
                server.start()
            pending = [i for i in pending if i not in answers]
        while pending:  # cut by a kill after the last restart: retry with the same keys
            retried += len(pending)
            post_purchases(server.base, key, load, pending, answers)
            pending = [i for i in pending if i not in answers]
        totals = totals_of(server, key, load)
    return {"answers": answers, "retried": retried, **totals}


def totals_of(server: Server, key: str, load: Load) -> dict:
    points = {}
    for member_id in load.member_ids:
        status, body = call(server.base, key, "GET", f"/members/{member_id}/balance")
        assert status == 200, body
        points[member_id] = body["points"]["available"] + body["points"]["pending"]
    purchases, cursor = 0, None
    while True:
        status, body = call(server.base, key, "GET", "/purchases?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        purchases += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return {"points": points, "purchases": purchases}


# --- the outbox worker ------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook receiver that processes each event id once (as a careful receiver does), a little slowly so
    that a kill lands mid-way."""

    delay: float = 0.01
    requests: int = 0
    processed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> ThreadingHTTPServer:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(state.delay)
                with state.lock:
                    state.requests += 1
                    event_id = self.headers.get("X-Vafa-Event-Id")
                    if event_id not in state.processed:
                        state.processed.append(event_id)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


SHELL_QUERY = """
import json
from vafa.outbox.models import OutboxEvent
from vafa.webhooks.models import EVENT_TYPES, WebhookDelivery
print(json.dumps({"events": sorted(str(e) for e in OutboxEvent.objects.filter(event_type__in=EVENT_TYPES)
                                   .values_list("event_id", flat=True)),
                  "undelivered": WebhookDelivery.objects.exclude(status="delivered").count()}))
"""


def outbox_state(env: dict) -> dict:
    """The webhook-worthy events the outbox holds and how many deliveries are not yet delivered."""
    done = vafa(env, "shell", "-c", SHELL_QUERY)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


EXPIRE_LEASES = """
from django.utils import timezone
from vafa.webhooks.models import WebhookDelivery
WebhookDelivery.objects.filter(status="pending", next_attempt_at__gt=timezone.now()).update(
    next_attempt_at=timezone.now())
"""


def run_worker_with_kills(env: dict, expected: int, receiver: Receiver, kills: int, timeout: float = 180,
                          fast_forward: bool = False) -> None:
    """Run `vafa worker`, SIGKILL it `kills` times once some deliveries are through, restart it, and wait until
    the receiver has processed `expected` events. A delivery cut by the kill is retried when its lease (60 s)
    runs out; `fast_forward` ends the leases at once instead of waiting (what the clock would do)."""
    deadline = time.monotonic() + timeout
    for round_ in range(kills + 1):
        with Process(env, "worker", "--interval", "0.05").start() as worker:
            target = expected * (round_ + 1) // (kills + 2)
            goal = expected if round_ == kills else max(target, 1)
            while len(receiver.processed) < goal and time.monotonic() < deadline:
                assert worker.proc.poll() is None, "the worker exited"
                time.sleep(0.005)
            while round_ == kills and outbox_state(env)["undelivered"] and time.monotonic() < deadline:
                time.sleep(0.2)  # the last answers are being recorded
        if fast_forward and round_ < kills:
            assert vafa(env, "shell", "-c", EXPIRE_LEASES).returncode == 0
    assert len(receiver.processed) >= expected, (len(receiver.processed), expected)
