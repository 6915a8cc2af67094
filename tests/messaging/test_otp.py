"""One-time codes and the join page: hashed, 2 minutes, 5 tries, rate limits, no enumeration of members, and
sign-up rewards held until the mobile is proved (issue 10: High 2, Medium 1)."""

import datetime as dt
import re

import pytest
from django.test import Client
from tests.conftest import PROGRAM
from tests.messaging.conftest import sent_lines

from vafa.core.errors import InvalidInput
from vafa.ledger.selectors import balances
from vafa.members.models import Member
from vafa.messaging import otp
from vafa.messaging.models import OneTimeCode

REFERRAL = PROGRAM | {"referral": {"on": ["signup"], "referrer": {"currency": "points", "amount": 100},
                                   "referee": {"currency": "points", "amount": 50}}}
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def last_code() -> str:
    return re.search(r"\d{5}", sent_lines("otp")[-1]["text"]).group()


def test_a_code_is_sent_and_stored_only_hashed(file_business):
    answer = otp.request_code(file_business, "0912 123 4567", "login", now=T0)
    assert answer == {"mobile": "+989121234567", "expires_in": 120}
    code = last_code()
    row = OneTimeCode.objects.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.code_hash == otp.code_hash(file_business.pk, "+989121234567", "login", code)
    from vafa.messaging.models import Message

    assert code not in Message.objects.get(kind="otp").text  # the log never keeps it
    assert otp.verify_code(file_business, "09121234567", "login", code, now=T0 + dt.timedelta(seconds=119)) \
        == "+989121234567"
    with pytest.raises(InvalidInput) as used:  # once only
        otp.verify_code(file_business, "09121234567", "login", code, now=T0 + dt.timedelta(seconds=119))
    assert used.value.errors == [{"field": "code", "message": "code_expired"}]


def test_a_code_expires_after_two_minutes(file_business):
    otp.request_code(file_business, "09121234567", "login", now=T0)
    with pytest.raises(InvalidInput) as info:
        otp.verify_code(file_business, "09121234567", "login", last_code(), now=T0 + dt.timedelta(seconds=120))
    assert info.value.errors == [{"field": "code", "message": "code_expired"}]


def test_five_wrong_tries_end_the_code(file_business):
    otp.request_code(file_business, "09121234567", "login", now=T0)
    code = last_code()
    wrong = f"{(int(code) + 1) % 100000:05d}"
    for _ in range(4):
        with pytest.raises(InvalidInput):
            otp.verify_code(file_business, "09121234567", "login", wrong, now=T0)
    with pytest.raises(otp.TooManyAttempts):
        otp.verify_code(file_business, "09121234567", "login", wrong, now=T0)
    with pytest.raises(otp.TooManyAttempts):  # even the right code now
        otp.verify_code(file_business, "09121234567", "login", code, now=T0)
    assert OneTimeCode.objects.get().attempts == 5


def test_rate_limits_per_mobile_and_per_address(file_business):
    otp.request_code(file_business, "09121234567", "login", "10.0.0.1", now=T0)
    with pytest.raises(otp.TooManyRequests) as info:
        otp.request_code(file_business, "09121234567", "login", "10.0.0.1", now=T0 + dt.timedelta(seconds=59))
    assert info.value.params["retry_after"] == 2
    for minute in range(1, 5):
        otp.request_code(file_business, "09121234567", "login", "10.0.0.1", now=T0 + dt.timedelta(minutes=minute))
    with pytest.raises(otp.TooManyRequests):  # the 6th in an hour
        otp.request_code(file_business, "09121234567", "login", "10.0.0.1", now=T0 + dt.timedelta(minutes=10))
    otp.request_code(file_business, "09121234567", "login", "10.0.0.1", now=T0 + dt.timedelta(minutes=61))
    later = T0 + dt.timedelta(hours=5)
    for i in range(20):  # an address: 20 an hour, whatever the mobiles
        otp.request_code(file_business, f"0935000{i:04d}", "login", "10.0.0.1", now=later)
    with pytest.raises(otp.TooManyRequests):
        otp.request_code(file_business, "09359999999", "login", "10.0.0.1", now=later)
    otp.request_code(file_business, "09359999999", "login", "10.0.0.2", now=later)


def test_the_api_answers_alike_for_members_and_strangers_and_never_500(writer, file_business, member):
    known = writer.post("/otp", {"mobile": member.mobile, "purpose": "login"})
    stranger = writer.post("/otp", {"mobile": "09351234567", "purpose": "login"})
    assert (known.status_code, stranger.status_code) == (202, 202)
    assert known.json()["expires_in"] == stranger.json()["expires_in"] == 120
    assert set(known.json()) == set(stranger.json()) == {"mobile", "expires_in"}
    again = writer.post("/otp", {"mobile": "09351234567", "purpose": "login"})
    assert again.status_code == 429 and again["Content-Type"].startswith("application/problem+json")
    wrong = writer.post("/otp/verify", {"mobile": "09351234567", "purpose": "login", "code": "abcde"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["message"] in ("wrong_code", "کد تأیید درست نیست")
    none = writer.post("/otp/verify", {"mobile": "09359876543", "purpose": "login", "code": "12345"})
    assert none.status_code == 422
    assert writer.post("/otp", {"mobile": "x", "purpose": "nope"}).status_code == 422
    relayed = writer.post("/otp", {"mobile": "09351230000", "purpose": "login", "client_address": "203.0.113.7"})
    assert relayed.status_code == 202
    assert OneTimeCode.objects.get(mobile="+989351230000").client_address == "203.0.113.7"


def test_otp_through_kavenegar_verify_lookup(writer, kavenegar_business, fake_kavenegar):
    from vafa.messaging.services import update_settings

    update_settings(kavenegar_business, otp_template="vafa-verify")
    assert writer.post("/otp", {"mobile": "09121234567", "purpose": "purchase"}).status_code == 202
    assert fake_kavenegar.calls == ["verify/lookup"]
    code = fake_kavenegar.received[0]["message"].split(":")[1]
    verified = writer.post("/otp/verify", {"mobile": "09121234567", "purpose": "purchase", "code": code})
    assert verified.json() == {"mobile": "+989121234567", "verified": True}


# --- the join page --------------------------------------------------------------------------------------------


def join(client: Client, referrer, mobile: str, address: str = "10.1.1.1"):
    return client.post(f"/join/cafe/?ref={referrer.code}", {"mobile": mobile, "first_name": "x", "ref": referrer.code},
                       REMOTE_ADDR=address)


def test_random_mobiles_with_a_referral_code_credit_nobody(file_business, member, program):
    program(REFERRAL)
    client = Client()
    for i in range(5):
        assert join(client, member, f"0935100{i:04d}", address=f"10.9.0.{i}").status_code == 200
    assert Member.objects.filter(referred_by=member, mobile_verified=False).count() == 5
    assert balances(member)["points"]["available"] == 0
    newcomer = Member.objects.get(mobile="+989351000000")
    assert balances(newcomer)["points"]["available"] == 0


def test_the_code_proves_the_mobile_and_pays_the_held_rewards(file_business, member, program):
    program(REFERRAL)
    client = Client()
    page = join(client, member, "09351000001").content.decode()
    assert 'name="code"' in page
    wrong = client.post("/join/cafe/", {"mobile": "+989351000001", "code": "00000" if last_code() != "00000"
                                        else "11111"}, REMOTE_ADDR="10.1.1.1")
    assert "خوش آمدید" not in wrong.content.decode()
    assert balances(member)["points"]["available"] == 0
    done = client.post("/join/cafe/", {"mobile": "+989351000001", "code": last_code()}, REMOTE_ADDR="10.1.1.1")
    newcomer = Member.objects.get(mobile="+989351000001")
    assert newcomer.code in done.content.decode() and newcomer.mobile_verified
    assert balances(member)["points"]["available"] == 100 and balances(newcomer)["points"]["available"] == 50


def test_the_first_purchase_pays_the_held_rewards(file_business, member, program):
    from vafa.purchases.services import record_purchase

    program(REFERRAL)
    join(Client(), member, "09351000002")
    newcomer = Member.objects.get(mobile="+989351000002")
    assert balances(member)["points"]["available"] == 0
    record_purchase(file_business, member_id=newcomer.pk, branch_code="t1", receipt="J-1", total=100_000)
    assert balances(member)["points"]["available"] == 100
    record_purchase(file_business, member_id=newcomer.pk, branch_code="t1", receipt="J-2", total=100_000)
    assert balances(member)["points"]["available"] == 100  # once


def test_the_join_page_answers_alike_whether_or_not_the_mobile_is_a_member(file_business, member):
    def answer(mobile, address):
        html = Client().post("/join/cafe/", {"mobile": mobile, "first_name": "x"}, REMOTE_ADDR=address)
        return re.sub(r'value="[^"]*"', "", html.content.decode())

    known, stranger = answer("09121234567", "10.2.0.1"), answer("09352000000", "10.2.0.2")
    assert known.replace("+989121234567", "M") == stranger.replace("+989352000000", "M")
    assert "قبلاً عضو" not in known


def test_the_join_page_is_throttled_per_mobile_and_per_address(file_business, member):
    client = Client()
    first = client.post("/join/cafe/", {"mobile": "09353000000"}, REMOTE_ADDR="10.3.0.1")
    assert 'name="code"' in first.content.decode()
    again = client.post("/join/cafe/", {"mobile": "09353000000"}, REMOTE_ADDR="10.3.0.9")
    assert 'name="code"' not in again.content.decode()  # the same mobile within a minute
    for i in range(1, 20):
        client.post("/join/cafe/", {"mobile": f"0935300{i:04d}"}, REMOTE_ADDR="10.3.0.1")
    assert Member.objects.filter(mobile__startswith="+98935300").count() == 20
    for i in range(20, 25):
        refused = client.post("/join/cafe/", {"mobile": f"0935300{i:04d}"}, REMOTE_ADDR="10.3.0.1")
        assert 'name="code"' not in refused.content.decode()
    assert Member.objects.filter(mobile__startswith="+98935300").count() == 20  # no sign-ups past the limit
