import json

import pytest
from django.core.management import CommandError, call_command
from tests.messaging.conftest import sent_lines

from vafa.messaging.models import Message


def test_sms_test_sends_through_the_kavenegar_channel_and_prints_the_answer(kavenegar_business, fake_kavenegar,
                                                                             capsys):
    call_command("sms", "test", "--business", "cafe", "--to", "0912 123 4567")
    answer = json.loads(capsys.readouterr().out)
    assert (answer["state"], answer["account"]["remaincredit"]) == ("sent", 125000)
    assert fake_kavenegar.received[0]["receptor"] == "09121234567"
    assert fake_kavenegar.received[0]["sender"] == "10004346"  # the service line


def test_sms_test_without_a_provider_or_with_a_refusal_fails(business, fake_kavenegar, kavenegar_business):
    fake_kavenegar.fail_next = [418]
    with pytest.raises(CommandError, match="insufficient_credit"):
        call_command("sms", "test", "--business", "cafe", "--to", "09121234567")
    with pytest.raises(CommandError, match="no business"):
        call_command("sms", "test", "--business", "nope", "--to", "09121234567")


def test_send_due_and_status(file_business, member, capsys):
    from vafa.messaging.services import queue_message

    queue_message(file_business, member=member, kind="manual", text="سلام")
    call_command("messages", "send-due")
    assert json.loads(capsys.readouterr().out)["handed"] >= 1
    assert [line["text"] for line in sent_lines("manual")] == ["سلام"]
    call_command("messages", "status", "--business", "cafe")
    status = json.loads(capsys.readouterr().out)
    assert status["delivered"]["messages"] == Message.objects.filter(state="delivered").count()


def test_the_worker_runs_send_due(file_business, member):
    from vafa.jobs.services import job_names, run_due
    from vafa.messaging.services import queue_message

    assert job_names().index("send_messages") > job_names().index("deliver_outbox")
    queue_message(file_business, member=member, kind="manual", text="از کارگر")
    run_due()
    assert [line["text"] for line in sent_lines("manual")] == ["از کارگر"]


def test_a_reply_with_the_opt_out_word_through_the_callback(client, file_business, member):
    from vafa.messaging.models import OptOut
    from vafa.messaging.selectors import settings_of

    token = settings_of(file_business).inbound_token
    assert client.post("/api/v1/messaging/inbound/kavenegar/wrong", {"from": "09121234567",
                                                                     "message": "لغو"}).status_code == 404
    answer = client.post(f"/api/v1/messaging/inbound/kavenegar/{token}", {"from": "09121234567", "message": "سلام"})
    assert answer.json() == {"opted_out": False}
    answer = client.post(f"/api/v1/messaging/inbound/kavenegar/{token}", {"from": "09121234567", "message": "لغو"})
    assert answer.json() == {"opted_out": True}
    assert OptOut.objects.get(member=member).how == "reply"
