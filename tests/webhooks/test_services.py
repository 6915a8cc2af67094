"""Webhooks end to end against a real HTTP server on loopback: outbox → fan-out → signed POST → retries."""

import datetime as dt
import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from conftest import postgres_only
from vafa.core.errors import InvalidInput, NotFound
from vafa.members.services import MemberUpdate, sign_up, update_member
from vafa.outbox.models import OutboxEvent
from vafa.outbox.services import HANDLERS, deliver_due
from vafa.purchases.services import record_purchase
from vafa.webhooks import services
from vafa.webhooks.models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from vafa.webhooks.services import (
    backoff,
    create_endpoint,
    deliver_webhooks,
    fan_out,
    sign,
    update_endpoint,
    verify_signature,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    # A proxy from the environment must not swallow requests to loopback.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings):
    """These tests' receivers listen on 127.0.0.1, which webhooks refuse unless private addresses are allowed
    (tests/webhooks/test_addresses.py proves the refusals with the setting off)."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What a webhook receiver saw. `statuses` are answered in turn (then 200). Like a careful receiver it
    processes each event id once: `processed` holds the ids in the order they were first handled."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def receiver(statuses=(), delay=0.0):
    state = Receiver(statuses=list(statuses))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(delay)
            with state.lock:
                state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                event_id = self.headers.get("X-Vafa-Event-Id")
                if event_id not in state.processed:
                    state.processed.append(event_id)
                status = state.statuses.pop(0) if state.statuses else 200
            answer = b"nope" if status >= 300 else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/vafa"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"


def buy(business, member, receipt="r1", total=500_000):
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=total)


def events_since(business, endpoint, types) -> dict[str, OutboxEvent]:
    rows = OutboxEvent.objects.filter(business=business, created_at__gte=endpoint.created_at)
    return {str(e.event_id): e for e in rows if "*" in types or e.event_type in types}


# --- delivery end to end --------------------------------------------------------------------------------------

def test_events_reach_the_receiver_signed_with_their_ids(business, member):
    with receiver() as rec:
        types = ["member.created", "purchase.created", "points.earned"]
        endpoint = create_endpoint(business, url=rec.url, events=types)
        newcomer = sign_up(business, mobile="09125550000", first_name="مریم")
        buy(business, newcomer)
        buy(business, member, receipt="r2")
        assert not rec.requests  # nothing goes out inside the use case's transaction

        deliver_due()
        expected = events_since(business, endpoint, types)
        assert deliver_webhooks() == len(expected) == 5  # 1 sign-up, 2 purchases, 2 earnings

    by_id = {r.headers["x-vafa-event-id"]: r for r in rec.requests}
    assert set(by_id) == set(expected) and len(rec.requests) == 5
    for event_id, request in by_id.items():
        event = expected[event_id]
        assert request.path == "/hooks/vafa"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "Vafa-Webhooks/1"
        assert request.headers["x-vafa-event"] == event.event_type
        assert verify_signature(endpoint.secret, request.headers["x-vafa-signature"], request.body)
        assert not verify_signature("whsec_other", request.headers["x-vafa-signature"], request.body)
        body = request.json
        assert body == {"id": event_id, "type": event.event_type, "created_at": event.created_at.isoformat(),
                        "business": "cafe", "data": event.payload}
    created = [r.json for r in rec.requests if r.json["type"] == "member.created"]
    assert [b["data"]["member_id"] for b in created] == [newcomer.pk]  # the fixture member joined before
    assert WebhookDelivery.objects.filter(status="delivered").count() == 5
    assert WebhookAttempt.objects.filter(status_code=200).count() == 5
    assert deliver_webhooks(timezone.now() + dt.timedelta(days=1)) == 0  # nothing is sent twice


def test_only_subscribed_events_of_active_endpoints_of_the_business(business, member, other_business):
    with receiver() as rec:
        purchases = create_endpoint(business, url=rec.url + "?only=purchases", events=["purchase.created"])
        everything = create_endpoint(business, url=rec.url + "?all", events=["*"])
        switched_off = create_endpoint(business, url=rec.url + "?off", events=["*"])
        update_endpoint(business, switched_off.pk, active=False)
        elsewhere = create_endpoint(other_business, url=rec.url + "?other", events=["*"])
        buy(business, member)
        update_member(business, MemberUpdate.check(business, member.pk, first_name="Ali"))
        deliver_due()
        deliver_webhooks()

    def seen(endpoint):
        query = endpoint.url.partition("?")[2]
        return sorted(r.json["type"] for r in rec.requests if r.path.endswith(query))

    assert seen(purchases) == ["purchase.created"]
    all_types = sorted(e.event_type for e in events_since(business, everything, ["*"]).values())
    assert seen(everything) == all_types
    assert {"purchase.created", "points.earned", "member.updated"} <= set(all_types)
    assert seen(switched_off) == [] and seen(elsewhere) == []
    assert not WebhookDelivery.objects.filter(endpoint__in=[switched_off, elsewhere]).exists()


def test_a_failing_receiver_is_retried_with_growing_backoff_until_it_succeeds(business):
    with receiver(statuses=[500, 500]) as rec:
        endpoint = create_endpoint(business, url=rec.url, events=["member.created"])
        newcomer = sign_up(business, mobile="09125550001")
        deliver_due()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)

        now = timezone.now()
        assert deliver_webhooks(now) == 0
        delivery.refresh_from_db()
        first_wait = delivery.next_attempt_at - now
        assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
        assert dt.timedelta(seconds=10) <= first_wait < dt.timedelta(seconds=11)
        assert "HTTP 500" in delivery.last_error

        assert deliver_webhooks(now + dt.timedelta(seconds=5)) == 0  # not due yet: nothing sent
        assert len(rec.requests) == 1

        second = delivery.next_attempt_at + dt.timedelta(milliseconds=1)
        assert deliver_webhooks(second) == 0
        delivery.refresh_from_db()
        second_wait = delivery.next_attempt_at - second
        assert delivery.attempts == 2 and dt.timedelta(seconds=20) <= second_wait < dt.timedelta(seconds=21)

        third = delivery.next_attempt_at + dt.timedelta(milliseconds=1)
        assert deliver_webhooks(third) == 1
        assert deliver_webhooks(third + dt.timedelta(days=1)) == 0

    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3 and delivery.last_error == ""
    assert delivery.delivered_at >= third
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[0].at < attempts[1].at < attempts[2].at
    assert attempts[0].error.startswith("HTTP 500") and attempts[2].error == ""
    assert len(rec.requests) == 3
    assert {r.headers["x-vafa-event-id"] for r in rec.requests} == {str(delivery.event_id)}
    assert all(verify_signature(endpoint.secret, r.headers["x-vafa-signature"], r.body) for r in rec.requests)
    assert rec.requests[0].json["data"]["member_id"] == newcomer.pk


def test_gives_up_after_ten_attempts(business):
    with receiver(statuses=[503] * 20) as rec:
        create_endpoint(business, url=rec.url, events=["member.created"])
        sign_up(business, mobile="09125550002")
        deliver_due()
        at = timezone.now()
        for _ in range(12):
            deliver_webhooks(at)
            at += dt.timedelta(hours=7)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 10 == services.MAX_ATTEMPTS
    assert len(rec.requests) == 10 and delivery.attempt_log.count() == 10


def test_backoff_doubles_from_ten_seconds_and_is_capped_at_six_hours():
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(12).total_seconds() == 20480  # 10 × 2^11
    assert backoff(13) == backoff(40) == dt.timedelta(hours=6)


def test_a_network_error_is_logged_and_retried(business):
    endpoint = create_endpoint(business, url=closed_port_url(), events=["member.created"])
    sign_up(business, mobile="09125550003")
    deliver_due()
    now = timezone.now()
    assert deliver_webhooks(now) == 0
    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and "refused" in attempt.error.lower()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.next_attempt_at - now >= dt.timedelta(seconds=10)

    with receiver() as rec:  # the receiver comes back (at another address)
        update_endpoint(business, endpoint.pk, url=rec.url)
        assert deliver_webhooks(delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [r.headers["x-vafa-event-id"] for r in rec.requests] == [str(delivery.event_id)]


def test_a_receiver_that_dedupes_by_event_id_sees_each_event_once(business, monkeypatch):
    failed = set()

    def flaky(event):  # another outbox handler fails once, so the outbox runs every handler again
        if event.event_type == "member.created" and event.pk not in failed:
            failed.add(event.pk)
            raise RuntimeError("sms gateway down")

    monkeypatch.setitem(HANDLERS, "flaky", flaky)
    # The receiver handles the first POST but answers 500 (say it timed out committing): we send it again.
    with receiver(statuses=[500]) as rec:
        endpoint = create_endpoint(business, url=rec.url, events=["member.created"])
        sign_up(business, mobile="09125550004")
        event = OutboxEvent.objects.get(event_type="member.created", created_at__gte=endpoint.created_at)
        deliver_due()  # the flaky handler asks for a retry …
        event.refresh_from_db()
        assert event.status == "pending" and event.attempts == 1
        deliver_due(timezone.now() + dt.timedelta(minutes=5))  # … and the webhooks handler runs a second time
        fan_out(event)  # and a third, for good measure
        event.refresh_from_db()
        assert event.status == "delivered"
        assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1

        now = timezone.now()
        deliver_webhooks(now)
        deliver_webhooks(now + dt.timedelta(minutes=1))
    assert len(rec.requests) == 2  # at least once …
    assert rec.processed == [str(event.event_id)]  # … and exactly once for a receiver that dedupes


def test_a_claimed_delivery_is_not_sent_again_until_its_lease_runs_out(business):
    with receiver() as rec:
        create_endpoint(business, url=rec.url, events=["member.created"])
        sign_up(business, mobile="09125550005")
        deliver_due()
        delivery = WebhookDelivery.objects.get()
        now = timezone.now()
        assert services._claim(delivery.pk, now) is not None  # a worker took it (and, say, died mid-POST)
        assert services._claim(delivery.pk, now) is None  # a second worker cannot take it
        assert deliver_webhooks(now + dt.timedelta(seconds=30)) == 0
        assert rec.requests == []
        assert deliver_webhooks(now + services.LEASE + dt.timedelta(seconds=1)) == 1  # the lease ran out
    assert len(rec.requests) == 1


def test_concurrent_workers_post_a_delivery_once(business):
    with receiver() as rec:
        create_endpoint(business, url=rec.url, events=["member.created"])
        sign_up(business, mobile="09125550006")
        deliver_due()
        now = timezone.now()
        results = [deliver_webhooks(now), deliver_webhooks(now)]
    assert results == [1, 0] and len(rec.requests) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_post_each_delivery_once(business):
    """Committed rows and two real connections: both workers see the same due deliveries; the claim lets only
    one of them POST each (the receiver is slow, so their runs overlap)."""
    with receiver(delay=0.1) as rec:
        create_endpoint(business, url=rec.url, events=["member.created"])
        for i in range(6):
            sign_up(business, mobile=f"0912555010{i}")
        deliver_due()
        now = timezone.now()
        results: list[int] = []
        start = threading.Barrier(2)

        def worker():
            try:
                start.wait()
                results.append(deliver_webhooks(now))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    ids = [r.headers["x-vafa-event-id"] for r in rec.requests]
    assert len(ids) == len(set(ids)) == 6 and sum(results) == 6 and len(results) == 2
    assert WebhookAttempt.objects.count() == 6
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_switching_an_endpoint_off_gives_up_its_pending_deliveries(business):
    with receiver() as rec:
        endpoint = create_endpoint(business, url=rec.url, events=["*"])
        sign_up(business, mobile="09125550007")
        deliver_due()
        update_endpoint(business, endpoint.pk, active=False)
        assert deliver_webhooks() == 0
    assert rec.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 0


def test_the_test_event_is_sent_to_one_endpoint(business):
    with receiver() as rec:
        endpoint = create_endpoint(business, url=rec.url, events=["purchase.created"])
        create_endpoint(business, url=rec.url + "x", events=["*"])
        delivery = services.send_test(business, endpoint.pk)
        assert deliver_webhooks() == 1
    [request] = rec.requests
    assert request.json["type"] == "webhook.test" == request.headers["x-vafa-event"]
    assert request.json["id"] == str(delivery.event_id)
    assert verify_signature(endpoint.secret, request.headers["x-vafa-signature"], request.body)


def test_the_periodic_job_delivers(business):
    from vafa.jobs.services import job_names, run_job

    assert "deliver_webhooks" in job_names()
    with receiver() as rec:
        create_endpoint(business, url=rec.url, events=["member.created"])
        sign_up(business, mobile="09125550008")
        run_job("deliver_outbox")
        assert run_job("deliver_webhooks") == "1"
    assert len(rec.requests) == 1


# --- endpoints ------------------------------------------------------------------------------------------------

def test_create_endpoint_generates_a_secret_and_normalises_events(business):
    one = create_endpoint(business, url=" https://shop.example/hooks ", events=["points.earned", "points.earned"])
    two = create_endpoint(business, url="http://shop.example:8080/h", events=["member.created", "*"])
    assert one.url == "https://shop.example/hooks" and one.events == ["points.earned"]
    assert two.events == ["*"]
    assert one.secret.startswith("whsec_") and len(one.secret) > 40 and one.secret != two.secret


@pytest.mark.parametrize("url", ["ftp://shop.example/h", "shop.example/h", "https://",
                                 "http://user:pw@shop.example/",
                                 "http://shop.example:99999/", "javascript:alert(1)", "http://shop .example/",
                                 "https://shop.example/" + "a" * 500, ""])
def test_bad_urls_are_refused_and_nothing_is_written(business, url):
    with pytest.raises(InvalidInput) as caught:
        create_endpoint(business, url=url, events=["member.created"])
    assert [e["field"] for e in caught.value.errors] == ["url"]
    assert not WebhookEndpoint.objects.exists()


def test_unknown_or_missing_events_are_refused(business):
    with pytest.raises(InvalidInput) as caught:
        create_endpoint(business, url="https://shop.example/h", events=["member.created", "member.deleted", 3])
    assert caught.value.errors == [{"field": "events.1", "message": "unknown_event"},
                                   {"field": "events.2", "message": "unknown_event"}]
    with pytest.raises(InvalidInput) as caught:
        create_endpoint(business, url="nope", events=[])
    assert {e["field"] for e in caught.value.errors} == {"url", "events"}
    assert not WebhookEndpoint.objects.exists()


def test_every_event_the_code_emits_is_subscribable():
    import pathlib
    import re

    import vafa

    emitted = set()
    for path in pathlib.Path(vafa.__file__).parent.rglob("*.py"):
        emitted |= set(re.findall(r"""emit\([^,]+,\s*(?:f?)"([a-z_{}.]+)\"""", path.read_text()))
        emitted |= set(re.findall(r"""else "([a-z_]+\.[a-z_]+)",""", path.read_text()))
    literal = {e for e in emitted if "{" not in e}
    assert literal and literal <= set(EVENT_TYPES), literal - set(EVENT_TYPES)


def test_update_and_delete_stay_within_the_business(business, other_business):
    endpoint = create_endpoint(business, url="https://shop.example/h", events=["member.created"])
    with pytest.raises(NotFound):
        update_endpoint(other_business, endpoint.pk, active=False)
    with pytest.raises(NotFound):
        services.delete_endpoint(other_business, endpoint.pk)
    with pytest.raises(InvalidInput):
        update_endpoint(business, endpoint.pk, url=None, events=["nope"])
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.events == ["member.created"]


# --- signatures -----------------------------------------------------------------------------------------------

def test_verify_signature():
    body = json.dumps({"id": "x", "data": {"name": "مریم"}}, ensure_ascii=False).encode()
    now = int(time.time())
    header = sign("whsec_a", body, now)
    assert header.startswith(f"t={now},v1=")
    assert verify_signature("whsec_a", header, body)
    assert verify_signature("whsec_a", header, body.decode())  # str bodies are encoded as UTF-8
    assert not verify_signature("whsec_b", header, body)
    assert not verify_signature("whsec_a", header, body + b" ")
    assert not verify_signature("whsec_a", header, body, now=now + 301)  # too old: a replay
    assert verify_signature("whsec_a", header, body, now=now + 299)
    assert not verify_signature("whsec_a", header.replace(f"t={now}", f"t={now + 1}"), body)
    assert verify_signature("whsec_b", header + "," + sign("whsec_b", body, now).split(",")[1], body)
    for bad in (None, "", "v1=abc", f"t={now}", "t=soon,v1=abc", "garbage"):
        assert not verify_signature("whsec_a", bad, body)
