"""`vafa serve` as it runs in production (granian): the real server in a subprocess on a loopback port. Fifty
clients at once get answers (no reset), a client keeps its connection, idle and half-open connections do not
stall anyone, static files come from WhiteNoise, an oversized header block and a 200 MB upload are refused
before they are read, and the workers die with a SIGKILLed master (issues 10, 11, 12)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the workers die with the master on Linux")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, bytes, Message]:
    """Status, body and headers (looked up in any case: granian sends them in lower case)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data dir for the module's servers: the first start migrates it (a minute on a busy machine)."""
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(VAFA_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])))
    if not env.get("VAFA_DATABASE_URL", "").startswith("postgres"):
        env.pop("VAFA_DATABASE_URL", None)
    else:
        env.pop("VAFA_DATABASE_URL")  # this test is about the server, not the database: SQLite in the tmp dir
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "vafa.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # migrating a new data dir takes a minute on a busy machine
        while True:
            try:
                get(base + "/login/", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not answer within 180 s"
                time.sleep(0.2)
        yield base, port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_it_is_granian_not_the_development_server(server):
    base, _, _ = server
    status, _, headers = get(base + "/login/")
    assert status == 200 and headers["Server"] == "granian"


def test_an_api_call_keeps_its_connection_and_its_security_headers(server):
    """Keep-alive (one connection for many requests: the till's), and every header the middleware sets on an
    API answer and on a problem."""
    base, port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", "/api/v1/members/1/balance", headers={"Authorization": "Bearer vk_1_nope"})
            response = connection.getresponse()
            body = response.read()
            assert response.status == 401 and response.getheader("Content-Type") == "application/problem+json"
            assert json.loads(body)["status"] == 401
            assert response.getheader("X-Content-Type-Options") == "nosniff"
            assert response.getheader("X-Frame-Options") == "DENY"
            assert response.getheader("Connection", "").lower() != "close"
        assert connection.sock is not None  # the same connection all along
    finally:
        connection.close()


def test_fifty_concurrent_clients_all_get_answers(server):
    base, _, _ = server
    results: list = []
    start = threading.Barrier(50)

    def client():
        start.wait()
        try:
            results.append(get(base + "/login/", timeout=30)[0])
        except Exception as exc:  # noqa: BLE001 - a reset or a timeout is what this test looks for
            results.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * 50


def test_idle_and_half_open_connections_do_not_stall_other_requests(server):
    base, port, _ = server
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # connect, send nothing
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]  # half a request, never finished
    for sock in slow:
        sock.sendall(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        time.sleep(0.3)
        for _ in range(10):
            started = time.monotonic()
            assert get(base + "/login/", timeout=5)[0] == 200
            assert time.monotonic() - started < 2
    finally:
        for sock in idle + slow:
            sock.close()


def test_static_files_are_served_with_caching_headers(server):
    base, _, _ = server
    status, body, headers = get(base + "/static/admin/css/base.css")
    assert status == 200 and b"body" in body
    assert "max-age" in headers["Cache-Control"]


def test_a_header_block_larger_than_the_buffer_is_refused(server):
    _, port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + b"".join(b"X-Filler-%d: %s\r\n" % (i, b"x" * 8000) for i in range(80)) + b"\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_a_200_mb_upload_to_a_public_page_is_refused_before_it_is_read(server):
    _, port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /join/cafe/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                     b"Content-Length: 209715200\r\n\r\n--xyz\r\n")
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5  # answered at once, not after reading 200 MB


def processes() -> dict[int, tuple[int, str]]:
    """Every live process on the machine: pid → (parent pid, state), from /proc (zombies left out)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    state, parent = handle.read().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue
            if state != "Z":
                found[int(entry)] = (int(parent), state)
    return found


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux's /proc")
def test_the_workers_die_with_a_killed_master(server, data_dir):
    """No orphan keeps the port (or serves old code) after the master is SIGKILLed: a crash, a careless deploy."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("VAFA_DATABASE_URL", None)
    env.update(VAFA_DATA_DIR=str(data_dir), PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")])))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vafa.cli", "serve", "--port", str(port), "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get(f"http://127.0.0.1:{port}/login/", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        workers = [pid for pid, (parent, _) in processes().items() if parent == proc.pid]
        assert len(workers) == 2
    finally:
        proc.kill()
        proc.wait(30)
    deadline = time.monotonic() + 10
    while set(workers) & set(processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(workers) & set(processes())


def test_an_answer_in_memory_goes_to_granian_as_one_chunk_and_a_stream_as_it_is(db):  # request_finished closes old connections
    """`whole_answers` (the worker's application): granian sends a list from Rust in one write, so an answer held
    in memory is handed over as its bytes, after Django's close (request_finished); a file or a stream is not
    read into memory and is closed by granian after the last chunk."""
    from django.core.signals import request_finished
    from django.http import HttpResponse, StreamingHttpResponse

    from vafa.core.management.commands.serve import whole_answers

    finished = []

    def receiver(**kwargs):
        finished.append(True)

    answers = iter([HttpResponse(b'{"points": 1}', content_type="application/json"),
                    StreamingHttpResponse(iter([b"a", b"b"]))])
    statuses = []
    application = whole_answers(lambda environ, start_response: (start_response("200 OK", []), next(answers))[1])
    request_finished.connect(receiver)
    try:
        whole = application({}, lambda status, headers: statuses.append(status))
        assert whole == [b'{"points": 1}'] and finished == [True]
        stream = application({}, lambda status, headers: statuses.append(status))
        assert isinstance(stream, StreamingHttpResponse) and finished == [True]
        assert b"".join(stream) == b"ab"
        stream.close()
        assert finished == [True, True] and statuses == ["200 OK", "200 OK"]
    finally:
        request_finished.disconnect(receiver)


def test_an_application_thread_is_kept_as_long_as_its_database_connection(monkeypatch):
    """granian ends a thread idle for 30 s by default; its successor would open a new database connection (each
    thread has its own, kept CONN_MAX_AGE), so the workers keep idle threads as long as the connection lives."""
    import granian.server

    from vafa.core.management.commands import serve

    seen = {}

    class Server:
        def __init__(self, target, **options):
            seen.update(options)

        def serve(self, target_loader):
            seen["loader"] = target_loader

    monkeypatch.setattr(granian.server, "Server", Server)
    for age, idle in ((600, 600), (None, 600), (3600, 600), (60, 60), (0, 5)):
        monkeypatch.setitem(serve.connections["default"].settings_dict, "CONN_MAX_AGE", age)
        serve._granian("127.0.0.1", 8000, 2, 8)
        assert seen["blocking_threads_idle_timeout"] == idle, age
    assert seen["blocking_threads"] == 8 and seen["loader"] is serve._worker_application


def test_a_worker_freezes_what_it_loaded_out_of_the_collector_s_reach(db):
    """A worker's application, with its URL modules, is loaded and then frozen (gc.freeze), so that a full
    collection walks only what requests made since, not all of Django (a ~140 ms pause of every thread)."""
    import gc
    import io

    from vafa.core.management.commands import serve

    gc.unfreeze()
    try:
        application = serve._loaded_application()
        assert gc.get_freeze_count() > 10_000
        statuses = []
        answer = application({"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/members/1/balance",
                              "SERVER_NAME": "testserver", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                              "wsgi.input": io.BytesIO()}, lambda status, headers: statuses.append(status))
        assert statuses == ["401 Unauthorized"] and b"".join(answer)
    finally:
        gc.unfreeze()
