"""Broadcast throughput (issue 13): recipients queued per second and messages handed to a (fake) Kavenegar per
second, on a fresh database (SQLite in a temporary data dir, or the PostgreSQL of VAFA_DATABASE_URL, where it
creates and drops its own database). Prints one JSON object.

    python -m bench.messaging [--members 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.setup import django_ready  # noqa: E402 — once the paths above are set


def measure(members: int) -> dict:
    django_ready(migrate=True)
    from django.utils import timezone
    from tests.messaging.fake_kavenegar import API_KEY, FakeKavenegar

    from vafa.members.models import Member
    from vafa.messaging.broadcasts import create_broadcast, queue_due_broadcasts
    from vafa.messaging.models import Message
    from vafa.messaging.services import deliver, update_settings
    from vafa.tenancy.services import create_business

    business = create_business(name="Bench", slug="bench-sms")
    now = timezone.now()
    Member.objects.bulk_create([Member(business=business, mobile=f"+98935{i:07d}", code=f"B{i:07d}", joined_at=now,
                                       first_name=f"m{i}") for i in range(members)], batch_size=5000)
    with FakeKavenegar() as fake:
        os.environ["VAFA_KAVENEGAR_URL"] = fake.url
        update_settings(business, sms_provider="kavenegar", sms_api_key=API_KEY, sms_sender="2000660110")
        create_broadcast(business, audience={}, text="{first_name} عزیز، حراج بهاره!", promotional=False)
        started = time.perf_counter()
        queued = queue_due_broadcasts()
        queue_seconds = time.perf_counter() - started
        started = time.perf_counter()
        handed = deliver(throttle=False)
        send_seconds = time.perf_counter() - started
        assert handed == queued == members and len(fake.received) == members, (handed, queued, len(fake.received))
        assert Message.objects.filter(state="sent").count() == members
    return {"members": members, "queue_seconds": round(queue_seconds, 2),
            "recipients_queued_per_second": round(queued / queue_seconds),
            "send_seconds": round(send_seconds, 2), "messages_handed_per_second": round(handed / send_seconds),
            "sendarray_calls": fake.calls.count("sms/sendarray")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()
    url = os.environ.get("VAFA_DATABASE_URL", "")
    if url.startswith("postgres"):
        from bench.reliability.crashkit import fresh_database

        with tempfile.TemporaryDirectory() as data, fresh_database(Path(data)) as env:
            os.environ["VAFA_DATABASE_URL"] = env["VAFA_DATABASE_URL"]
            os.environ["VAFA_DATA_DIR"] = data
            figures = measure(args.members) | {"database": "postgresql"}
    else:
        with tempfile.TemporaryDirectory() as data:
            os.environ["VAFA_DATA_DIR"] = data
            os.environ.pop("VAFA_DATABASE_URL", None)
            figures = measure(args.members) | {"database": "sqlite"}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
