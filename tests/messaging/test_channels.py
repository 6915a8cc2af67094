"""The Kavenegar adapter against a fake Kavenegar server on loopback, and email against a real SMTP server
(aiosmtpd) on loopback."""

import logging

import pytest
from tests.messaging.conftest import parsed_mail
from tests.messaging.fake_kavenegar import API_KEY, INVALID_RECEPTOR, FakeKavenegar

from vafa.messaging.channels import BLOCKED, DELIVERED, FAILED, RETRY, SENT, UNKNOWN, Outgoing
from vafa.messaging.channels.kavenegar import KavenegarChannel


@pytest.fixture
def fake():
    with FakeKavenegar() as server:
        yield server


def sms(i: int, to: str = "+989121234567", text: str = "سلام") -> Outgoing:
    return Outgoing(i, to, text, sender="10004346")


def test_send_one_with_our_id_as_localid(fake):
    [outcome] = KavenegarChannel(API_KEY, fake.url).send([sms(7)])
    assert (outcome.state, outcome.provider_message_id, outcome.cost) == (SENT, "1001", 1200)
    assert fake.calls == ["sms/send"]
    assert fake.received == [{"receptor": "09121234567", "message": "سلام", "sender": "10004346", "localid": "7",
                              "messageid": 1001}]


def test_sendarray_takes_up_to_200_in_one_call(fake):
    channel = KavenegarChannel(API_KEY, fake.url)
    items = [sms(i, f"+98912{i:07d}") for i in range(1, 201)]
    outcomes = channel.send(items)
    assert fake.calls == ["sms/sendarray"] and len(fake.received) == 200
    assert [o.message_id for o in outcomes] == list(range(1, 201))
    assert {o.state for o in outcomes} == {SENT}
    assert fake.received[199]["localid"] == "200" and channel.batch_size == 200


def test_one_invalid_receptor_fails_alone_with_its_reason(fake):
    items = [sms(1), sms(2, "+989000000000"), sms(3, "+989121111111")]
    assert INVALID_RECEPTOR == "09000000000"
    outcomes = KavenegarChannel(API_KEY, fake.url).send(items)
    assert [(o.state, o.error) for o in outcomes] == [(SENT, ""), (FAILED, "invalid_receptor"), (SENT, "")]
    assert fake.calls == ["sms/sendarray", "sms/send", "sms/send", "sms/send"]


@pytest.mark.parametrize(("code", "state", "reason"), [
    (451, RETRY, "provider_rate_limit"), (409, RETRY, "provider_busy"), (418, RETRY, "insufficient_credit"),
    (412, FAILED, "invalid_sender"), (413, FAILED, "message_empty_or_too_long"), (401, FAILED, "account_disabled"),
    (424, FAILED, "template_not_found"), (501, FAILED, "test_account_own_number_only"),
])
def test_answer_codes_map_to_retry_or_a_permanent_failure(fake, code, state, reason):
    fake.fail_next = [code]
    [outcome] = KavenegarChannel(API_KEY, fake.url).send([sms(1)])
    assert (outcome.state, outcome.error) == (state, reason)
    assert fake.received == []


def test_a_wrong_key_fails_and_the_key_never_reaches_the_log(fake, caplog):
    caplog.set_level(logging.DEBUG)
    [outcome] = KavenegarChannel("WRONG-KEY-123456", fake.url).send([sms(1)])
    assert (outcome.state, outcome.error) == (FAILED, "invalid_api_key")
    fake.fail_next = [451]
    KavenegarChannel(API_KEY, fake.url).send([sms(2)])
    assert "WRONG-KEY-123456" not in caplog.text and API_KEY not in caplog.text
    assert "…3456" in caplog.text and "…" + API_KEY[-4:] in caplog.text  # the last 4 characters only


def test_a_slow_answer_times_out_with_an_unknown_outcome(fake):
    fake.delay = 1.0
    [outcome] = KavenegarChannel(API_KEY, fake.url, timeout=0.2).send([sms(1)])
    assert (outcome.state, outcome.error) == (UNKNOWN, "timeout")  # it may have been taken: ask before resending


def test_an_unreachable_server_has_an_unknown_outcome():
    [outcome] = KavenegarChannel(API_KEY, "http://127.0.0.1:9/v1", timeout=1).send([sms(1)])
    assert (outcome.state, outcome.error) == (UNKNOWN, "unreachable")


def test_verify_lookup_for_one_time_codes(fake):
    outcome = KavenegarChannel(API_KEY, fake.url).send_code("+989121234567", "12345", "code 12345", "vafa-otp", 9)
    assert outcome.state == SENT
    assert fake.calls == ["verify/lookup"] and fake.received[0]["message"] == "vafa-otp:12345"
    plain = KavenegarChannel(API_KEY, fake.url).send_code("+989121234567", "54321", "code 54321", "", 10)
    assert plain.state == SENT and fake.calls[-1] == "sms/send" and fake.received[-1]["message"] == "code 54321"


def test_status_polling_and_lookup_by_our_id(fake):
    channel = KavenegarChannel(API_KEY, fake.url)
    first, second, third = channel.send([sms(1), sms(2), sms(3)])
    fake.statuses = {first.provider_message_id: 10, second.provider_message_id: 14}
    assert channel.poll_status([first.provider_message_id, second.provider_message_id, third.provider_message_id]) \
        == {first.provider_message_id: DELIVERED, second.provider_message_id: BLOCKED}
    found = channel.find_sent([sms(2), sms(77)])
    assert list(found) == [2] and found[2].provider_message_id == second.provider_message_id


def test_account_info(fake):
    assert KavenegarChannel(API_KEY, fake.url).account_info()["remaincredit"] == 125000


def test_persian_html_and_text_mail_arrives_over_smtp(smtp_server):
    from vafa.messaging.channels.email import EmailChannel
    from vafa.messaging.templates import render_html

    text = "سارا عزیز،\n<b>۱۲۰ امتیاز</b> گرفتید."
    [outcome] = EmailChannel().send([Outgoing(5, "sara@example.com", text, sender="club@example.com",
                                              subject="باشگاه وفا", html=render_html(text, "fa"))])
    assert outcome.state == SENT
    [raw] = smtp_server
    mail = parsed_mail(raw)
    assert (mail["To"], mail["From"], mail["Subject"]) == ("sara@example.com", "club@example.com", "باشگاه وفا")
    assert mail["X-Vafa-Message-Id"] == "5"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "سارا عزیز" in plain and "<b>۱۲۰ امتیاز</b>" in plain
    assert 'dir="rtl"' in html and "&lt;b&gt;۱۲۰ امتیاز&lt;/b&gt;" in html and "<b>" not in html
