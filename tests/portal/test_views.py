"""The member portal with the test client: sign-in by code, each page, and only the member's own things."""

import datetime as dt

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

    # a number in Persian digits; a member code with letters as it is typed at a till
    assert (to_persian_digits(number) if number.isdigit() else number) in page


def test_history_shows_purchases_and_entries_with_reasons(member_client, business, member, make_member, purchase_at):
    purchase_at(member, total=250_000)
    stranger = make_member()
    purchase_at(stranger, total=999_000)
    page = member_client.get("/m/cafe/history/").content.decode()
    assert page.count('data-testid="purchase"') == 1 and "۲۵۰٬۰۰۰" in page and "۹۹۹٬۰۰۰" not in page
    from vafa.ledger.selectors import ledger_entries

    entry = ledger_entries(member)[0]
    assert entry.reason in page


def test_points_page_converts_points_to_wallet(member_client, business, member):
    from vafa.members.balances import adjust

    adjust(business, member.pk, "points", 250, reason="test")
    page = member_client.get("/m/cafe/points/").content.decode()
    assert 'data-testid="rate-today"' in page
    response = member_client.post("/m/cafe/points/", {"points": "۲۵۰"})
    assert response.status_code == 302
    held = balances(member)
    assert held["points"]["available"] == 50 and held["wallet"]["available"] == 20_000


def test_converting_more_points_than_held_is_refused(member_client, business, member):
    response = member_client.post("/m/cafe/points/", {"points": "500"})
    assert response.status_code == 400 and balances(member)["wallet"]["available"] == 0


def test_a_member_requests_a_gift_and_sees_it(member_client, business, member):
    from vafa.catalogue.services import create_gift
    from vafa.members.balances import adjust

    adjust(business, member.pk, "points", 300, reason="test")
    cheap = create_gift(business, title="لیوان", price_currency="points", price=200, stock=5)
    dear = create_gift(business, title="دوچرخه", price_currency="points", price=5000)
    page = member_client.get("/m/cafe/gifts/").content.decode()
    assert f'value="{cheap.pk}"' in page and f'value="{dear.pk}"' not in page
    assert member_client.post("/m/cafe/gifts/", {"gift": cheap.pk}).status_code == 302
    assert balances(member)["points"]["available"] == 100
    page = member_client.get("/m/cafe/gifts/").content.decode()
    assert 'data-testid="gift-request"' in page and "لیوان" in page
    response = member_client.post("/m/cafe/gifts/", {"gift": dear.pk})
    assert response.status_code == 400 and balances(member)["points"]["available"] == 100


def test_another_business_gift_cannot_be_requested(member_client, business, member, other_business):
    from vafa.catalogue.services import create_gift
    from vafa.members.balances import adjust

    adjust(business, member.pk, "points", 300, reason="test")
    foreign = create_gift(other_business, title="Mug", price_currency="points", price=10)
    assert member_client.post("/m/cafe/gifts/", {"gift": foreign.pk}).status_code == 400
    assert balances(member)["points"]["available"] == 300


def test_invite_page_has_link_code_qr_and_friends_count(member_client, business, member, make_member):
    make_member(referral_code=member.code)
    page = member_client.get("/m/cafe/invite/").content.decode()
    assert f"/m/cafe/sign-in/?ref={member.code}" in page and "<svg" in page
    assert "دوستانی که با لینک شما عضو شدند: ۱" in page


def test_profile_saves_through_the_member_service_and_opts_out(member_client, business, member):
    from vafa.messaging.models import OptOut

    page = member_client.get("/m/cafe/profile/").content.decode()
    assert "data-jdp" in page and "تجریش" in page
    response = member_client.post("/m/cafe/profile/", {"first_name": "علی", "last_name": "رضایی",
                                                       "email": "ali@example.com", "birth_date": "۱۳۷۰/۰۱/۱۵",
                                                       "anniversary": "", "interests": "قهوه، کیک"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.birth_date.isoformat() == "1991-04-04" and member.interests == ["قهوه", "کیک"]
    assert OptOut.objects.filter(business=business, member=member).exists()
    member_client.post("/m/cafe/profile/", {"first_name": "علی", "interests": "", "marketing": "on"})
    assert not OptOut.objects.filter(business=business, member=member).exists()


def test_a_bad_email_is_refused_beside_its_field(member_client, business, member):
    response = member_client.post("/m/cafe/profile/", {"email": "not-an-email", "marketing": "on"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.email == ""


def test_manifest_and_service_worker(client, business):
    manifest = client.get("/m/cafe/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = manifest.json()
    assert data["name"] == "کافه وفا" and data["start_url"] == "/m/cafe/" and data["scope"] == "/m/cafe/"
    assert {icon["sizes"] for icon in data["icons"]} == {"192x192", "512x512"}
    worker = client.get("/m/cafe/sw.js")
    assert worker["Content-Type"] == "text/javascript" and b"addEventListener(\"fetch\"" in worker.content


def test_no_portal_page_shows_another_business_things(member_client, business, member, other_business):
    from vafa.catalogue.services import create_gift
    from vafa.members.services import sign_up
    from vafa.purchases.services import record_purchase

    secret = "BSECRET"
    create_gift(other_business, title=f"{secret}-gift", price_currency="points", price=1)
    theirs = sign_up(other_business, mobile="09121234567", first_name=secret)
    record_purchase(other_business, member_id=theirs.pk, branch_code="main", receipt=f"{secret}-R", total=5000)
    for page in ("", "history/", "points/", "gifts/", "offers/", "invite/", "profile/", "receipts/"):
        answer = member_client.get(f"/m/cafe/{page}")
        assert answer.status_code == 200 and secret not in answer.content.decode() and "Main" not in \
            answer.content.decode(), page
        assert member_client.get(f"/m/other/{page}").status_code == 302  # the same mobile there is not signed in


def test_the_manifest_names_the_logo_the_back_office_stored(client, business):
    from vafa.panel.services import set_logo

    assert client.get("/m/cafe/logo").status_code == 404
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    set_logo(business, png)
    assert client.get("/m/cafe/manifest.webmanifest").json()["icons"][-1]["src"] == "/m/cafe/logo"
    assert client.get("/m/cafe/logo").content == png


def test_offers_show_rewards_held_and_shared_codes_for_the_member_tier_only(member_client, business, member):
    from django.utils import timezone

    from vafa.purchases.models import IssuedReward
    from vafa.vouchers.services import create_code, create_definition

    IssuedReward.objects.create(business=business, member=member, rule_id="card", key="stamp:card:1",
                                reward_code="coffee", name="قهوه رایگان", reason="r", issued_at=timezone.now(),
                                gives="amount_off", terms={"amount": 50_000})
    everyone = create_definition(business, name="تخفیف پاییز", kind="fixed", amount=20_000)
    create_code(everyone, "AUTUMN")
    gold_only = create_definition(business, name="ویژه طلایی", kind="fixed", amount=1, tiers=["gold"])
    create_code(gold_only, "GOLDEN")
    personal = create_definition(business, name="کد شخصی", kind="fixed", amount=1)
    create_code(personal, "ONCE1", max_uses=1)
    page = member_client.get("/m/cafe/offers/").content.decode()
    assert "قهوه رایگان" in page and "۵۰٬۰۰۰ تومان تخفیف روی یک خرید" in page
    assert "AUTUMN" in page and "GOLDEN" not in page and "ONCE1" not in page


def test_an_english_business_portal_is_in_english(client, other_business):
    page = client.get("/m/other/sign-in/").content.decode()
    assert 'lang="en" dir="ltr"' in page and "Mobile number" in page and "Send me a code" in page
