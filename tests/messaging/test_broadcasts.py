"""Broadcasts: audience, dry run, opt-out, quiet hours, sendarray batches, recovery after a crash, reports."""

import datetime as dt

from vafa.members.balances import adjust
from vafa.messaging import services
from vafa.messaging.broadcasts import create_broadcast, queue_due_broadcasts
from vafa.messaging.models import Message
from vafa.messaging.services import deliver, opt_out, poll_delivery_reports, update_settings

NOON = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)  # 12:00 in Tehran
NIGHT = dt.datetime(2026, 3, 1, 19, 30, tzinfo=dt.UTC)  # 23:00 in Tehran


def members(make_member, n):
    return [make_member(mobile=f"09350{i:06d}") for i in range(n)]


def test_dry_run_answers_recipients_parts_and_cost_and_queues_nothing(kavenegar_business, make_member):
    people = members(make_member, 3)
    adjust(kavenegar_business, people[0].pk, "points", 500, reason="x")
    opt_out(kavenegar_business, people[2])
    answer = create_broadcast(kavenegar_business, audience={"points_min": 100}, text="{first_name} عزیز، حراج!",
                              dry_run=True)
    assert (answer["recipients"], answer["parts_per_message"], answer["cost"]) == (1, 1, 1200)
    everyone = create_broadcast(kavenegar_business, audience={}, text="حراج!", dry_run=True)
    assert everyone["recipients"] == 2  # the opted-out member is left out of promotional messages
    assert everyone["sample"] == "حراج!\nلغو ۱۱"
    informational = create_broadcast(kavenegar_business, audience={}, text="حراج!", promotional=False, dry_run=True)
    assert informational["recipients"] == 3
    assert Message.objects.filter(kind="broadcast").count() == 0


def test_delivery_in_sendarray_batches_from_the_advertising_line(kavenegar_business, make_member, fake_kavenegar):
    members(make_member, 450)
    create_broadcast(kavenegar_business, audience={}, text="حراج بهاره", send_at=NOON)
    assert queue_due_broadcasts(NOON) == 450
    assert queue_due_broadcasts(NOON) == 0  # queued once
    assert deliver(NOON, throttle=False) == 450
    assert fake_kavenegar.calls.count("sms/sendarray") == 3  # 200 + 200 + 50
    assert len({r["receptor"] for r in fake_kavenegar.received}) == 450
    assert {r["sender"] for r in fake_kavenegar.received} == {"2000660110"}
    assert Message.objects.filter(kind="broadcast", state="sent").count() == 450


def test_promotional_messages_wait_for_the_morning(kavenegar_business, make_member, fake_kavenegar):
    members(make_member, 2)
    create_broadcast(kavenegar_business, audience={}, text="حراج شبانه", send_at=NIGHT)
    queue_due_broadcasts(NIGHT)
    assert deliver(NIGHT, throttle=False) == 0 and fake_kavenegar.received == []
    morning = dt.datetime(2026, 3, 2, 5, 30, tzinfo=dt.UTC)  # 09:00 in Tehran
    assert deliver(morning, throttle=False) == 2


def test_opted_out_after_queueing_is_blocked_not_sent(kavenegar_business, make_member, fake_kavenegar):
    first, second = members(make_member, 2)
    create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    assert services.inbound_reply(services.selectors.settings_of(kavenegar_business).inbound_token,
                                  "09350000001", "۱۱") is True
    deliver(NOON, throttle=False)
    assert [r["receptor"] for r in fake_kavenegar.received] == ["09350000000"]
    assert Message.objects.get(member=second).state == "blocked"


def test_a_worker_that_died_after_the_provider_took_the_batch_sends_nothing_twice(kavenegar_business, make_member,
                                                                                   fake_kavenegar):
    members(make_member, 5)
    create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    business_id = kavenegar_business.pk
    rows = services._claim(business_id, "sms", 200, NOON)  # claimed …
    channel = services._Channels().get(business_id, "sms")
    channel.send([services._outgoing(r, None) for r in rows[:3]])  # … 3 handed over, then the worker died
    assert len(fake_kavenegar.received) == 3
    later = NOON + services.LEASE
    assert deliver(later, throttle=False) == 2
    assert sorted(r["receptor"] for r in fake_kavenegar.received) == [f"0935{i:07d}" for i in range(5)]
    assert Message.objects.filter(state="sent").count() == 5
    assert "sms/statuslocalmessageid" in fake_kavenegar.calls


def test_temporary_refusals_retry_with_backoff_and_permanent_ones_fail_with_the_reason(
        kavenegar_business, make_member, fake_kavenegar):
    members(make_member, 1)
    create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    fake_kavenegar.fail_next = [451]
    assert deliver(NOON, throttle=False) == 0
    row = Message.objects.get(kind="broadcast")
    assert (row.state, row.error, row.next_attempt_at) == ("queued", "provider_rate_limit",
                                                           NOON + dt.timedelta(seconds=30))
    fake_kavenegar.fail_next = [412]
    assert deliver(NOON + dt.timedelta(seconds=30), throttle=False) == 1
    row.refresh_from_db()
    assert (row.state, row.error, row.attempts) == ("failed", "invalid_sender", 2)


def test_delivery_reports_and_counts_by_state(kavenegar_business, make_member, fake_kavenegar, reader):
    members(make_member, 3)
    created = create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    deliver(NOON, throttle=False)
    ids = [str(r["messageid"]) for r in fake_kavenegar.received]
    fake_kavenegar.statuses = {ids[0]: 10, ids[1]: 11}
    Message.objects.update(sent_at=NOON - dt.timedelta(minutes=5))
    assert poll_delivery_reports(NOON) == 2
    counts = reader.get(f"/messaging/broadcasts/{created['id']}").json()["counts"]
    assert (counts["delivered"], counts["failed"], counts["sent"]) == (1, 1, 1)
    assert reader.get("/messaging/messages", {"broadcast_id": created["id"], "status": "failed"}).json()["items"][0][
        "to"] == "+989350000001"


def test_the_api_refuses_unknown_audience_filters(admin, business):
    response = admin.post("/messaging/broadcasts", {"audience": {"zodiac": "leo"}, "text": "x", "dry_run": True})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "audience.zodiac"
    update_settings(business, sms_provider="file")
    ok = admin.post("/messaging/broadcasts", {"audience": {"tier": ["bronze"]}, "text": "x"}, idem="b-1")
    assert ok.status_code == 201 and ok.json()["recipients"] == 0


def test_a_timeout_after_the_provider_took_the_batch_is_asked_about_not_resent(
        kavenegar_business, make_member, fake_kavenegar, monkeypatch):
    members(make_member, 3)
    create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    monkeypatch.setenv("VAFA_KAVENEGAR_TIMEOUT", "0.2")
    fake_kavenegar.delay = 1.0  # takes the messages, answers too late
    assert deliver(NOON, throttle=False) == 0
    assert set(Message.objects.values_list("state", "error")) == {("sending", "timeout")}
    fake_kavenegar.delay = 0
    assert deliver(NOON + dt.timedelta(minutes=1), throttle=False) == 0
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}
    assert len(fake_kavenegar.received) == 3 and fake_kavenegar.calls[-1] == "sms/statuslocalmessageid"


def test_kavenegars_delivery_callback(client, kavenegar_business, make_member, fake_kavenegar):
    from vafa.messaging.selectors import settings_of

    members(make_member, 1)
    create_broadcast(kavenegar_business, audience={}, text="حراج", send_at=NOON)
    queue_due_broadcasts(NOON)
    deliver(NOON, throttle=False)
    token = settings_of(kavenegar_business).inbound_token
    provider_id = str(fake_kavenegar.received[0]["messageid"])
    url = f"/api/v1/messaging/inbound/kavenegar/{token}"
    assert client.post(url, {"messageid": provider_id, "status": "4"}).json() == {"updated": False}  # not final
    assert client.post(url, {"messageid": provider_id, "status": "10"}).json() == {"updated": True}
    assert Message.objects.get(kind="broadcast").state == "delivered"
