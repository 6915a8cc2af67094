"""The member portal with the test client: sign-in by code, each page, and only the member's own things."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.messaging.conftest import sent_lines
from tests.portal.conftest import last_code

from vafa.ledger.selectors import balances
from vafa.members.models import Member
from vafa.messaging.models import OneTimeCode
from vafa.portal.session import session_key

SIGN_IN = "/m/cafe/sign-in/"


def ask_code(client, mobile="09121234567", ref=""):
    return client.post(SIGN_IN, {"step": "mobile", "mobile": mobile, "ref": ref})


def send_code(client, code):
    return client.post(SIGN_IN, {"step": "code", "code": code})


def test_pages_need_a_signed_in_member(client, business):
    for page in ("", "history/", "points/", "gifts/", "invite/", "profile/"):
        response = client.get(f"/m/cafe/{page}")
        assert response.status_code == 302 and response["Location"] == SIGN_IN


def test_an_unknown_business_is_404(client, business):
    assert client.get("/m/nobody/sign-in/").status_code == 404


def test_sign_in_page_asks_a_mobile_and_the_code_field_fills_from_the_sms(client, file_business):
    page = client.get(SIGN_IN).content.decode()
    assert 'type="tel"' in page and 'lang="fa"' in page and "شماره موبایل" in page
    answer = ask_code(client).content.decode()
    assert 'autocomplete="one-time-code"' in answer


def test_a_member_signs_in_with_the_code(client, file_business, member):
    ask_code(client, "۰۹۱۲ ۱۲۳ ۴۵۶۷")
    response = send_code(client, last_code())
    assert response.status_code == 302 and response["Location"] == "/m/cafe/"
    assert client.session[session_key(file_business)] == member.pk
    assert client.get("/m/cafe/").status_code == 200


def test_the_answer_is_the_same_for_a_member_and_a_stranger(client, file_business, member):
    known = ask_code(client, "09121234567").content.decode()
    client.get(SIGN_IN + "?again")
    unknown = ask_code(client, "09350000000").content.decode()
    strip = lambda page: page.replace("۰۹۱۲۱۲۳۴۵۶۷", "X").replace("۰۹۳۵۰۰۰۰۰۰۰", "X")  # noqa: E731
    assert strip(known).split("csrfmiddlewaretoken")[0] == strip(unknown).split("csrfmiddlewaretoken")[0]
    assert len(sent_lines("otp")) == 2


def test_a_wrong_code_is_refused_with_a_clear_message(client, file_business, member):
    ask_code(client)
    wrong = "00000" if last_code() != "00000" else "11111"
    response = send_code(client, wrong)
    assert response.status_code == 200 and "کد تأیید درست نیست" in response.content.decode()
    assert session_key(file_business) not in client.session


def test_an_expired_code_is_refused_with_a_clear_message(client, file_business, member):
    ask_code(client)
    code = last_code()
    OneTimeCode.objects.filter(business=file_business).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = send_code(client, code)
    assert "کد تأیید منقضی شده" in response.content.decode()
    assert session_key(file_business) not in client.session


def test_a_new_mobile_joins_with_a_referral_code(client, file_business, member):
    ask_code(client, "09351112222", ref=member.code)
    response = send_code(client, last_code())
    assert response["Location"] == "/m/cafe/join/"
    page = client.get("/m/cafe/join/").content.decode()
    assert member.code in page
    response = client.post("/m/cafe/join/", {"first_name": "سارا", "last_name": "", "ref": member.code})
    assert response["Location"] == "/m/cafe/"
    joined = Member.objects.get(business=file_business, mobile="+989351112222")
    assert joined.referred_by == member and joined.mobile_verified
    assert client.session[session_key(file_business)] == joined.pk


def test_the_join_step_needs_a_proven_mobile(client, file_business):
    assert client.get("/m/cafe/join/")["Location"] == SIGN_IN
    assert client.post("/m/cafe/join/", {"first_name": "x"})["Location"] == SIGN_IN
    assert not Member.objects.filter(business=file_business).exists()


def test_sign_out_ends_the_member_session(member_client, business):
    assert member_client.post("/m/cafe/sign-out/")["Location"] == SIGN_IN
    assert member_client.get("/m/cafe/").status_code == 302


def test_a_member_of_one_business_is_nobody_in_another(member_client, business, other_business):
    assert member_client.get("/m/other/").status_code == 302


def test_a_blocked_member_is_signed_out(member_client, business, member):
    Member.objects.filter(pk=member.pk).update(status="blocked")
    assert member_client.get("/m/cafe/")["Location"] == SIGN_IN


def test_home_shows_balances_card_and_qr(member_client, business, member, purchase_at):
    purchase_at(member, total=250_000)
    page = member_client.get("/m/cafe/").content.decode()
    held = balances(member)["points"]["available"]
    assert held > 0
    assert 'data-testid="balance-points"' in page and "<svg" in page
    card = member.cards.first()
    number = card.number if card else member.code
    from vafa.core.digits import to_persian_digits

    assert to_persian_digits(number) in page
