"""Crash safety, long version (by hand): thousands of purchases against the real server, SIGKILLed several
times and restarted, the client retrying what got no answer; then a clean run of the same load on a fresh
database, and the totals compared; then the outbox worker SIGKILLed mid-way with real 60 s leases.

    python bench/reliability/crash.py [--purchases 3000] [--kills 5] [--worker-kills 2]

SQLite in temporary directories, or fresh databases on the PostgreSQL server VAFA_DATABASE_URL points at."""

import argparse
import sys
import tempfile
import time
from pathlib import Path

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


def run(env: dict, purchases: int, members: int, kills: int, receiver: Receiver | None = None) -> dict:
    key = prepare(env)

    def subscribe(server):
        if receiver is not None:
            status, body = call(server.base, key, "POST", "/webhooks", {
                "url": f"http://127.0.0.1:{receiver.http.server_address[1]}/hook", "events": ["*"]})
            assert status == 201, body

    load = Load(members=members, purchases=purchases)
    started = time.monotonic()
    result = run_with_kills(env, key, load, kills=kills, before=subscribe)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["ledger_check"] = vafa(env, "ledger", "check").stdout.strip()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=3000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--worker-kills", type=int, default=2)
    args = parser.parse_args()

    receiver = Receiver()
    receiver.http = receiver.serve()
    with fresh_database(Path(tempfile.mkdtemp(prefix="vafa-clean-"))) as env:
        clean = run(env, args.purchases, args.members, 0)
    with fresh_database(Path(tempfile.mkdtemp(prefix="vafa-crash-"))) as env:
        crashed = run(env, args.purchases, args.members, args.kills, receiver)
        same = (crashed["purchases"] == clean["purchases"] == args.purchases
                and list(crashed["points"].values()) == list(clean["points"].values()))
        print(f"crashed run: {crashed['purchases']} purchases, {crashed['retried']} requests re-sent after "
              f"{args.kills} kills, {crashed['seconds']} s; {crashed['ledger_check']}")
        print(f"clean run:   {clean['purchases']} purchases, {clean['seconds']} s; {clean['ledger_check']}")
        print(f"totals equal: {same}")
        once = run_worker(env, receiver, args.worker_kills)
    receiver.http.shutdown()
    sys.exit(0 if same and once and "passed" in crashed["ledger_check"] else 1)


def run_worker(env: dict, receiver: Receiver, kills: int) -> bool:
    events = outbox_state(env)["events"]
    started = time.monotonic()
    run_worker_with_kills(env, len(events), receiver, kills=kills, timeout=600)
    once = sorted(receiver.processed) == events
    print(f"worker: {len(events)} events, {receiver.requests} requests after {kills} kills (real 60 s leases), "
          f"{time.monotonic() - started:.1f} s; each processed exactly once: {once}")
    return once


if __name__ == "__main__":
    main()
