"""Crash safety, fast version (on SQLite, or on a fresh database of the PostgreSQL server when
VAFA_DATABASE_URL points at one) (bench/reliability/crash.py is the long one): the real server, SIGKILLed twice
in the middle of a few hundred purchases, restarted; the client retries whatever got no answer with the same
Idempotency-Key. Totals equal a clean run's and `vafa ledger check` passes. Then the outbox worker, SIGKILLed
mid-way (its 60 s delivery leases fast-forwarded): every event reaches a receiver that dedupes by event id, each processed exactly once."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.reliability.crashkit import (  # noqa: E402
    Load,
    Receiver,
    call,
    fresh_database,
    outbox_state,
    prepare,
    run_with_kills,
    run_worker_with_kills,
    vafa,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """One load for both tests: a webhook endpoint on a loopback receiver, then 240 purchases with two kills."""
    with fresh_database(tmp_path_factory.mktemp("crash")) as env:
        yield from _crash(env)


def _crash(env):
    key = prepare(env)
    receiver = Receiver()
    http = receiver.serve()

    def subscribe(server):
        status, body = call(server.base, key, "POST", "/webhooks",
                            {"url": f"http://127.0.0.1:{http.server_address[1]}/hook", "events": ["*"]})
        assert status == 201, body

    try:
        load = Load(members=12, purchases=200)
        result = run_with_kills(env, key, load, kills=2, before=subscribe)
        yield env, load, result, receiver
    finally:
        http.shutdown()


def test_a_killed_server_loses_and_doubles_nothing(crashed):
    env, load, result, _ = crashed
    answers = result["answers"]
    assert result["retried"] > 0  # the kills cut requests off
    assert sorted(answers) == list(range(load.purchases))
    assert {status for status, _ in answers.values()} <= {200, 201}, {s for s, _ in answers.values()}
    assert len({body["purchase_id"] for _, body in answers.values()}) == load.purchases
    assert result["purchases"] == load.purchases
    assert result["points"] == load.expected_points()
    done = vafa(env, "ledger", "check")
    assert done.returncode == 0 and "ledger check passed" in done.stdout, done.stdout + done.stderr


def test_a_killed_worker_delivers_every_event_once_to_a_deduping_receiver(crashed):
    env, _, _, receiver = crashed
    events = outbox_state(env)["events"]
    assert events
    run_worker_with_kills(env, len(events), receiver, kills=1, fast_forward=True)
    assert sorted(receiver.processed) == events  # each event processed exactly once
    assert receiver.requests >= len(events)  # at least once: a kill may repeat a delivery
    assert outbox_state(env)["undelivered"] == 0
