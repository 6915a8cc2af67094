"""A broadcast to 10,000 members with the real `vafa worker` SIGKILLed twice in the middle, against the fake
Kavenegar (which counts every message it receives and does not dedupe): every member gets it exactly once."""

import json
import sys
import time
from pathlib import Path

import pytest
from tests.messaging.fake_kavenegar import API_KEY, FakeKavenegar

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.reliability.crashkit import Process, fresh_database, vafa  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
MEMBERS = 10_000

SETUP = f"""
from django.utils import timezone
from vafa.members.models import Member
from vafa.messaging.broadcasts import create_broadcast
from vafa.messaging.services import update_settings
from vafa.tenancy.services import create_business
business = create_business(name="Crash", slug="crash")
now = timezone.now()
Member.objects.bulk_create([Member(business=business, mobile=f"+98935{{i:07d}}", code=f"C{{i:07d}}", joined_at=now,
                                   first_name=f"m{{i}}") for i in range({MEMBERS})], batch_size=2000)
# the worker's tier review gives these members their first tier: that is told by SMS too, but not here
update_settings(business, sms_provider="kavenegar", sms_api_key="{API_KEY}", sms_sender="2000660110",
                disabled_kinds=["tier_changed"])
print(create_broadcast(business, audience={{}}, text="{{first_name}} عزیز، حراج بهاره!", promotional=False)["id"])
"""
STATE = """
import json
from django.db.models import Count
from vafa.messaging.models import Message
print(json.dumps(dict(Message.objects.filter(kind="broadcast").values_list("state").annotate(n=Count("id")).values_list("state", "n"))))
"""
EXPIRE_LEASES = """
from django.utils import timezone
from vafa.messaging.models import Message
Message.objects.filter(state="sending").update(next_attempt_at=timezone.now())
"""


def state(env) -> dict:
    done = vafa(env, "shell", "-c", STATE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_broadcast_survives_two_kills_and_nobody_gets_it_twice(tmp_path):
    with FakeKavenegar() as fake, fresh_database(tmp_path) as env:
        env["VAFA_KAVENEGAR_URL"] = fake.url
        env["VAFA_SMS_BATCHES_PER_SECOND"] = "10"  # 50 batches: the kills land in the middle
        assert vafa(env, "migrate", "--verbosity", "0").returncode == 0
        done = vafa(env, "shell", "-c", SETUP)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 240
        kills = 0
        for goal in (MEMBERS * 3 // 10, MEMBERS * 7 // 10, MEMBERS):
            with Process(env, "worker", "--interval", "0.05").start() as worker:
                while len(fake.received) < goal and time.monotonic() < deadline:
                    assert worker.proc.poll() is None, "the worker exited"
                    time.sleep(0.005)
                if goal == MEMBERS:
                    while (state(env).keys() & {"queued", "sending"}) and time.monotonic() < deadline:
                        time.sleep(0.5)  # the last outcomes are being recorded
                else:
                    kills += 1
            if goal < MEMBERS:  # what the clock would do: the dead worker's leases run out
                assert vafa(env, "shell", "-c", EXPIRE_LEASES).returncode == 0
        receptors = [r["receptor"] for r in fake.received]
        assert kills == 2
        assert len(receptors) == MEMBERS and len(set(receptors)) == MEMBERS  # each exactly once
        assert state(env) == {"sent": MEMBERS}
        assert fake.calls.count("sms/sendarray") >= MEMBERS // 200
