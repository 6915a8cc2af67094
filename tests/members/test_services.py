"""Members and cards: sign-up, lookups, profile changes, cards issued, lost and replaced."""

import datetime as dt

import pytest
from tests.panel.conftest import operator, signed_in  # noqa: F401 — the screens' operators, shared
from tests.woocommerce.test_api import shop, woo  # noqa: F401 — the WooCommerce fixtures, shared

from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.luhn import is_valid
from vafa.ledger.check import check_ledger
from vafa.ledger.selectors import balances
from vafa.members.models import Card, Member
from vafa.members.selectors import find_member
from vafa.members.services import (
    CODE_ALPHABET,
    CardIssue,
    CardLoss,
    CardReplacement,
    MemberUpdate,
    issue_card,
    replace_card,
    report_card_lost,
    sign_up,
    update_member,
)
from vafa.outbox.models import OutboxEvent
from vafa.purchases.services import record_purchase

# --- sign-up ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["09121234567", "+989121234567", "989121234567", "9121234567",
                                      "۰۹۱۲۱۲۳۴۵۶۷", "٠٩١٢١٢٣٤٥٦٧", "0912 123 4567"])
def test_sign_up_normalises_mobile(business, spelling):
    member = sign_up(business, mobile=spelling, first_name="سارا")
    assert member.mobile == "+989121234567"
    assert Member.objects.get(pk=member.pk).mobile == "+989121234567"
    assert member.first_name == "سارا"
    assert OutboxEvent.objects.filter(business=business, event_type="member.created").count() == 1


def test_same_mobile_twice_in_one_business_is_a_conflict(business):
    sign_up(business, mobile="09121234567")
    with pytest.raises(Conflict) as info:
        sign_up(business, mobile="+98 912 123 4567")  # another spelling of the same number
    assert info.value.detail == "mobile_taken"
    assert info.value.params == {"mobile": "+989121234567"}
    assert Member.objects.filter(business=business).count() == 1


def test_same_mobile_in_two_businesses_is_fine(business, other_business):
    first = sign_up(business, mobile="09121234567")
    second = sign_up(other_business, mobile="09121234567")
    assert first.pk != second.pk
    assert first.mobile == second.mobile == "+989121234567"
    assert Member.objects.filter(mobile="+989121234567").count() == 2
    # each business finds its own member
    assert find_member(business, phone="09121234567").pk == first.pk
    assert find_member(other_business, phone="09121234567").pk == second.pk


def test_bad_email_and_mobile_give_field_errors_and_write_nothing(business):
    members = Member.objects.count()
    events = OutboxEvent.objects.count()
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="12345", email="not-an-email")
    fields = {e["field"]: e["message"] for e in info.value.errors}
    assert set(fields) == {"mobile", "email"}
    assert fields["email"] == "not_an_email"
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="09121234567", email="still@bad")
    assert info.value.errors == [{"field": "email", "message": "not_an_email"}]
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="02188776655")  # a landline
    assert [e["field"] for e in info.value.errors] == ["mobile"]
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="09121234567", favourite_colour="blue")
    assert info.value.errors == [{"field": "favourite_colour", "message": "unknown_field"}]
    assert Member.objects.count() == members
    assert OutboxEvent.objects.count() == events


def test_member_code_is_seven_chars_from_the_alphabet_and_unique(business, make_member):
    members = [make_member() for _ in range(40)]
    codes = [m.code for m in members]
    assert len(set(codes)) == 40
    for code in codes:
        assert len(code) == 7
        assert set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_new_members_get_the_lowest_tier(business, other_business):
    member = sign_up(business, mobile="09121234567")
    assert member.tier == "bronze"
    assert member.tier_since == member.joined_at
    other = sign_up(other_business, mobile="09121234567")
    assert other.tier == "bronze"


def test_jalali_birth_date_accepted(business):
    member = sign_up(business, mobile="09121234567", birth_date="1370/01/01", anniversary="۱۳۹۵/۰۶/۳۱")
    member.refresh_from_db()
    assert member.birth_date == dt.date(1991, 3, 21)
    assert member.anniversary == dt.date(2016, 9, 21)


def test_impossible_or_future_birth_date_rejected(business):
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="09121234567", birth_date="1370/13/01")
    assert info.value.errors == [{"field": "birth_date", "message": "impossible_date"}]
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="09121234567", birth_date="2999-01-01")
    assert info.value.errors == [{"field": "birth_date", "message": "date_in_future"}]
    assert Member.objects.filter(business=business).count() == 0


# --- lookups ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["09121234567", "+989121234567", "9121234567", "۰۹۱۲۱۲۳۴۵۶۷",
                                      "0098 912 123 4567"])
def test_find_member_by_phone(member, business, spelling):
    assert find_member(business, phone=spelling).pk == member.pk


def test_find_member_by_phone_not_found(member, business):
    with pytest.raises(NotFound):
        find_member(business, phone="09129999999")
    with pytest.raises(NotFound):
        find_member(business, phone="not a phone")


def test_find_member_by_code(member, business):
    assert find_member(business, code=member.code).pk == member.pk
    assert find_member(business, code=member.code.lower()).pk == member.pk
    assert find_member(business, code=f"  {member.code.lower()} ").pk == member.pk
    with pytest.raises(NotFound):
        find_member(business, code="ZZZZZZZ" if member.code != "ZZZZZZZ" else "YYYYYYY")


def test_find_member_needs_something(business):
    with pytest.raises(InvalidInput):
        find_member(business)


def test_find_member_by_active_card(member, business, other_business):
    card = issue_card(business, CardIssue.check(member.pk)).card
    assert find_member(business, card=card.number).pk == member.pk
    persian = card.number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert find_member(business, card=persian).pk == member.pk
    with pytest.raises(NotFound):
        find_member(other_business, card=card.number)  # another business does not see it


# --- cards ------------------------------------------------------------------------------------------


def test_issue_card_gives_a_luhn_valid_16_digit_number(member, business):
    numbers = set()
    for _ in range(20):
        card = issue_card(business, CardIssue.check(member.pk)).card
        assert len(card.number) == 16
        assert card.number.isdigit()
        assert is_valid(card.number)
        assert card.status == Card.Status.ACTIVE
        assert card.member_id == member.pk
        numbers.add(card.number)
    assert len(numbers) == 20


def test_issue_pre_printed_card(member, business):
    card = issue_card(business, CardIssue.check(member.pk, number="79927398713", kind=Card.Kind.MAGNETIC)).card
    assert card.number == "79927398713"
    assert card.kind == "magnetic"
    with pytest.raises(InvalidInput) as info:
        issue_card(business, CardIssue.check(member.pk, number="79927398710"))
    assert info.value.errors == [{"field": "number", "message": "bad_check_digit"}]
    with pytest.raises(Conflict) as info:
        issue_card(business, CardIssue.check(member.pk, number="79927398713"))
    assert info.value.detail == "card_number_taken"
    with pytest.raises(InvalidInput):
        issue_card(business, CardIssue.check(member.pk, kind="plastic"))
    with pytest.raises(NotFound):
        issue_card(business, CardIssue.check(10**9))
    assert Card.objects.filter(member=member).count() == 1


def test_replace_card_blocks_the_old_number_and_keeps_every_balance(member, business):
    old = issue_card(business, CardIssue.check(member.pk)).card
    result = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R1", total=1_250_000)
    assert result["balance"]["points"]["available"] == 120
    before = balances(member)
    assert before["points"] == {"available": 120, "pending": 0}

    new = replace_card(business, CardReplacement.check(member.pk, old.number)).card

    assert new.number != old.number
    assert is_valid(new.number)
    assert new.kind == old.kind
    old.refresh_from_db()
    assert old.status == Card.Status.REPLACED
    assert old.replaced_by_id == new.pk
    assert old.blocked_at is not None
    with pytest.raises(NotFound):
        find_member(business, card=old.number)
    assert find_member(business, card=new.number).pk == member.pk
    assert balances(member) == before
    assert check_ledger() == []

    with pytest.raises(Conflict) as info:
        replace_card(business, CardReplacement.check(member.pk, old.number))
    assert info.value.detail == "card_already_replaced"
    assert Card.objects.filter(member=member).count() == 2
    with pytest.raises(NotFound):
        replace_card(business, CardReplacement.check(member.pk, "0000000000000000"))


def test_report_card_lost(member, business):
    card = issue_card(business, CardIssue.check(member.pk)).card
    lost = report_card_lost(business, CardLoss.check(member.pk, card.number)).card
    assert lost.status == Card.Status.LOST
    assert lost.blocked_at is not None
    with pytest.raises(NotFound):
        find_member(business, card=card.number)
    with pytest.raises(Conflict) as info:
        report_card_lost(business, CardLoss.check(member.pk, card.number))
    assert info.value.detail == "card_not_active"
    with pytest.raises(NotFound):
        report_card_lost(business, CardLoss.check(member.pk, "4111111111111111"))
    # a lost card is then replaced: the replacement works, the lost number stays blocked
    new = replace_card(business, CardReplacement.check(member.pk, card.number)).card
    card.refresh_from_db()
    assert card.status == Card.Status.REPLACED
    assert card.blocked_at == lost.blocked_at
    assert find_member(business, card=new.number).pk == member.pk
    with pytest.raises(NotFound):
        find_member(business, card=card.number)


# --- profile ----------------------------------------------------------------------------------------


def test_update_member(member, business, make_member):
    updated = update_member(business, MemberUpdate.check(
        business, member.pk, first_name="  مریم ", email="maryam@example.com", birth_date="1370/01/01",
        gender="female", interests=["coffee"], mobile="۰۹۱۲۷۶۵۴۳۲۱")).member
    member.refresh_from_db()
    assert updated.pk == member.pk
    assert member.first_name == "مریم"
    assert member.email == "maryam@example.com"
    assert member.birth_date == dt.date(1991, 3, 21)
    assert member.gender == "female"
    assert member.interests == ["coffee"]
    assert member.mobile == "+989127654321"
    assert member.last_name == "رضایی"  # untouched

    other = make_member(mobile="09351112233")
    with pytest.raises(Conflict) as info:
        update_member(business, MemberUpdate.check(business, member.pk, mobile="+989351112233"))
    assert info.value.detail == "mobile_taken"
    with pytest.raises(InvalidInput) as info:
        update_member(business, MemberUpdate.check(business, member.pk, email="nope", gender="robot"))
    assert {e["field"]: e["message"] for e in info.value.errors} == {"email": "not_an_email",
                                                                      "gender": "unknown_choice"}
    with pytest.raises(InvalidInput):
        update_member(business, MemberUpdate.check(business, member.pk, mobile="12345"))
    with pytest.raises(NotFound):
        update_member(business, MemberUpdate.check(business, 10**9, first_name="x"))
    member.refresh_from_db()
    assert member.email == "maryam@example.com"
    assert member.mobile == "+989127654321"
    assert other.mobile == "+989351112233"


def test_update_member_clears_birth_date_and_blocks(member, business):
    update_member(business, MemberUpdate.check(business, member.pk, birth_date="1370/01/01"))
    update_member(business, MemberUpdate.check(business, member.pk, birth_date="", status="blocked"))
    member.refresh_from_db()
    assert member.birth_date is None
    assert member.status == Member.Status.BLOCKED
    with pytest.raises(Conflict) as info:
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R1", total=100_000)
    assert info.value.detail == "member_blocked"


def test_a_bad_mobile_gets_the_same_error_whatever_the_other_fields(business):
    with pytest.raises(InvalidInput) as alone:
        sign_up(business, mobile="12345")
    with pytest.raises(InvalidInput) as together:
        sign_up(business, mobile="12345", email="not-an-email")
    mobile_alone = [e for e in alone.value.errors if e["field"] == "mobile"]
    mobile_together = [e for e in together.value.errors if e["field"] == "mobile"]
    assert mobile_alone == mobile_together


def test_only_the_club_admission_makes_a_candidate(member, business):
    with pytest.raises(InvalidInput) as caught:
        update_member(business, MemberUpdate.check(business, member.pk, status="candidate"))
    assert caught.value.errors == [{"field": "status", "message": "set_by_admission_only"}]
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE


# --- sign-up, the use case: one typed input checked once, one wrapper, one audit row whoever asks ---------


def test_sign_up_takes_a_checked_input_and_answers_a_typed_result(business):
    from vafa.access.models import AuditEvent
    from vafa.members.services import SignedUp, SignUp, sign_up_member

    new = SignUp.check(business, mobile="۰۹۱۲ ۱۱۱ ۲۲۳۳", first_name=" مریم ", birth_date="1370/06/15",
                       referral_code=None)
    assert (new.mobile, new.profile["first_name"], new.profile["birth_date"]) == (
        "+989121112233", "مریم", dt.date(1991, 9, 6))
    done = sign_up_member(business, new)
    assert isinstance(done, SignedUp) and not done.replayed
    assert (done.answer["id"], done.answer["mobile"], done.answer["birth_date"]) == (
        done.member.pk, "+989121112233", "1991-09-06")
    event = AuditEvent.objects.get()
    assert (event.operation, event.object_type, event.object_id, event.channel) == (
        "member.sign_up", "member", str(done.member.pk), "system")
    assert event.params["mobile"] == "+989121112233" and event.params["birth_date"] == "1991-09-06"


def test_every_problem_of_a_sign_up_at_once_in_either_language(business):
    from vafa.core.messages import message
    from vafa.members.services import SignUp

    with pytest.raises(InvalidInput) as caught:
        SignUp.check(business, mobile="12", email="nope", gender="robot", nickname="x")
    assert [(e["field"], e["message"]) for e in caught.value.errors] == [
        ("mobile", "not_a_phone"), ("email", "not_an_email"), ("gender", "unknown_choice"),
        ("nickname", "unknown_field")]
    assert message("not_a_phone", "en") != message("not_a_phone", "fa")  # worded when read, in each language
    assert not Member.objects.exists()


def test_the_input_is_checked_once_whichever_channel(writer, business, monkeypatch):
    from vafa.members import services

    calls = []
    real = services._clean_profile
    monkeypatch.setattr(services, "_clean_profile", lambda *a: calls.append(1) or real(*a))
    assert writer.post("/members", {"mobile": "09121112233", "first_name": "A"}).status_code == 201
    sign_up(business, mobile="09121112234")
    assert len(calls) == 2  # one check per sign-up, none again inside the use case


def test_a_replayed_sign_up_answers_the_first_answer_and_writes_nothing(business):
    from vafa.access.models import AuditEvent
    from vafa.core.errors import IdempotencyConflict
    from vafa.members.services import SignUp, sign_up_member

    first = sign_up_member(business, SignUp.check(business, mobile="09121112233", first_name="A"),
                           idempotency_key="k-1")
    # the replay still answers the first answer
    update_member(business, MemberUpdate.check(business, first.member.pk, first_name="B"))
    again = sign_up_member(business, SignUp.check(business, mobile="+989121112233", first_name="A"),
                           idempotency_key="k-1")
    assert again.replayed and again.answer == first.answer and again.member.pk == first.member.pk
    with pytest.raises(IdempotencyConflict):
        sign_up_member(business, SignUp.check(business, mobile="09121112233", first_name="C"), idempotency_key="k-1")
    assert Member.objects.count() == 1
    assert AuditEvent.objects.filter(operation="member.sign_up").count() == 1


def test_a_refused_sign_up_writes_no_audit_row(business, member):
    from vafa.access.models import AuditEvent

    with pytest.raises(Conflict):
        sign_up(business, mobile=member.mobile)
    with pytest.raises(InvalidInput):
        sign_up(business, mobile="09121112233", referral_code="ZZZZZZZ")
    assert not AuditEvent.objects.exists() and Member.objects.count() == 1


CHANNELS = {"api": "/api/v1/members", "panel": "/panel/members/new", "till": "/till/t1/signup",
            "portal": "/m/cafe/join/", "join page": "/join/cafe/"}


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_each_channel_signs_up_through_the_use_case_with_one_audit_row(channel, business, member, signed_in,  # noqa: F811
                                                                        writer, settings, tmp_path):
    """The same use case, whoever asks: one audit row, written in its transaction, naming the channel and the
    request; the screens' own fallback row (panel.post) is not written beside it."""
    from django.test import Client
    from tests.portal.conftest import last_code

    from vafa.access.models import AuditEvent
    from vafa.messaging.services import update_settings

    settings.DATA_DIR = tmp_path
    mobile = "09351112222"
    if channel == "api":
        assert writer.post("/members", {"mobile": mobile, "referral_code": member.code}).status_code == 201
    elif channel in ("panel", "till"):
        client = signed_in("owner" if channel == "panel" else "cashier", branch=None if channel == "panel" else "t1")
        assert client.post(CHANNELS[channel], {"mobile": mobile, "gender": ""}).status_code == 302
    elif channel == "portal":
        update_settings(business, sms_provider="file", price_per_part=1000)
        client = Client()
        client.post("/m/cafe/sign-in/", {"step": "mobile", "mobile": mobile, "ref": member.code})
        client.post("/m/cafe/sign-in/", {"step": "code", "code": last_code()})
        assert client.post(CHANNELS[channel], {"first_name": "سارا", "last_name": "", "ref": member.code}
                           ).status_code == 302
    else:
        update_settings(business, sms_provider="file", price_per_part=1000)
        assert Client().post(CHANNELS[channel], {"mobile": mobile, "first_name": "سارا", "ref": member.code,
                                                 "source": ""}).status_code == 200
    joined = Member.objects.get(business=business, mobile="+989351112222")
    event = AuditEvent.objects.get(operation="member.sign_up")
    assert (event.channel, event.object_id, event.params["mobile"]) == (
        channel.replace("join page", "portal"), str(joined.pk), "+989351112222")
    assert event.action == f"POST {CHANNELS[channel]}"
    assert not AuditEvent.objects.filter(operation="panel.post").exists()


def test_a_woocommerce_customer_signed_up_with_the_order_has_its_own_row(business, shop, woo):  # noqa: F811
    from vafa.access.models import AuditEvent

    assert woo(shop, "order_processing", topic="order.created").status_code == 200
    member = Member.objects.get(business=business)
    assert sorted(AuditEvent.objects.values_list("channel", "operation", "object_id")) == sorted([
        ("woocommerce", "member.sign_up", str(member.pk)),
        ("woocommerce", "purchase", str(member.purchases.get().pk))])


# --- the other member use cases: a typed input, the one wrapper, one audit row in its transaction ------------


@pytest.fixture
def unproven(business, member):
    """The member with one card, the mobile not yet proven (the join page's sign-up), and no audit row yet."""
    from vafa.access.models import AuditEvent

    card = issue_card(business, CardIssue.check(member.pk)).card
    Member.objects.filter(pk=member.pk).update(mobile_verified=False)
    AuditEvent.objects.all().delete()
    return card


def _use_case(name: str, business, member, card, **options):
    from vafa.members.services import MobileVerification, verify_mobile

    if name == "member.update":
        return update_member(business, MemberUpdate.check(business, member.pk, first_name=" B "), **options)
    if name == "card.issue":
        return issue_card(business, CardIssue.check(member.pk, kind="barcode"), **options)
    if name == "card.replace":
        return replace_card(business, CardReplacement.check(member.pk, card.number), **options)
    if name == "card.lost":
        return report_card_lost(business, CardLoss.check(member.pk, card.number), **options)
    return verify_mobile(business, MobileVerification(member.mobile), **options)


USE_CASES = {"member.update": "member", "card.issue": "card", "card.replace": "card", "card.lost": "card",
             "member.verify_mobile": "member"}


@pytest.mark.parametrize("name", list(USE_CASES))
def test_each_member_use_case_writes_its_audit_row_in_its_transaction(name, business, member, unproven,
                                                                       monkeypatch):
    from tests.api.helpers import counts

    from vafa.access.models import AuditEvent
    from vafa.core import usecase

    before = counts()

    def audit_store_down(**row):
        raise RuntimeError("audit store down")

    with monkeypatch.context() as patched:  # the row fails: the change it records is not written either
        patched.setitem(usecase.AUDIT_ROWS, "create", audit_store_down)
        with pytest.raises(RuntimeError):
            _use_case(name, business, member, unproven)
    assert counts() == before
    member.refresh_from_db()
    assert (member.first_name, member.mobile_verified) == ("علی", False)

    done = _use_case(name, business, member, unproven)
    assert not done.replayed
    event = AuditEvent.objects.get()
    object_id = done.card.number if USE_CASES[name] == "card" else str(member.pk)
    assert (event.operation, event.object_type, event.object_id, event.channel) == (
        name, USE_CASES[name], object_id, "system")


@pytest.mark.parametrize("name", list(USE_CASES))
def test_each_member_use_case_replays_with_its_key(name, business, member, unproven):
    from tests.api.helpers import stored

    from vafa.access.models import AuditEvent

    first = _use_case(name, business, member, unproven, idempotency_key="k-1")
    before = stored()
    again = _use_case(name, business, member, unproven, idempotency_key="k-1")
    assert again.replayed and not first.replayed
    if hasattr(first, "answer"):
        assert again.answer == first.answer
    assert stored() == before and AuditEvent.objects.filter(operation=name).count() == 1


@pytest.mark.parametrize("name, call, fields", [
    ("member.update", lambda b, m, c: update_member(b, MemberUpdate.check(b, m.pk, email="x", mobile=None)),
     ["mobile", "email"]),
    ("card.issue", lambda b, m, c: issue_card(b, CardIssue.check(m.pk, kind="nfc", number="79927398710")),
     ["kind", "number"]),
    ("card.replace", lambda b, m, c: replace_card(b, CardReplacement.check(m.pk, c.number, kind="nfc")), ["kind"]),
])
def test_a_member_use_case_with_bad_input_writes_nothing(name, call, fields, business, member, unproven):
    from tests.api.helpers import counts

    before = counts()
    with pytest.raises(InvalidInput) as caught:
        call(business, member, unproven)
    assert [e["field"] for e in caught.value.errors] == fields  # every problem at once
    assert counts() == before


def test_a_mobile_proven_again_or_no_members_changes_nothing_and_writes_no_row(business, member, unproven):
    from tests.api.helpers import counts

    from vafa.access.models import AuditEvent
    from vafa.members.services import MobileVerification, verify_mobile

    before = counts()
    nobody = verify_mobile(business, MobileVerification("+989350000000"))
    assert nobody.member is None and nobody.replayed and counts() == before
    assert not verify_mobile(business, MobileVerification(member.mobile)).replayed
    again = verify_mobile(business, MobileVerification(member.mobile))
    assert again.replayed and again.member.pk == member.pk
    assert AuditEvent.objects.filter(operation="member.verify_mobile").count() == 1


def test_a_profile_change_is_checked_once(business, member, writer, monkeypatch):
    from vafa.members import services

    calls = []
    real = services._clean_profile
    monkeypatch.setattr(services, "_clean_profile", lambda *a: calls.append(1) or real(*a))
    assert writer.patch(f"/members/{member.pk}", {"first_name": "A"}).status_code == 200
    update_member(business, MemberUpdate.check(business, member.pk, last_name="B"))
    assert len(calls) == 2  # one check per change, none again inside the use case


# --- … through each channel: the API, the panel, the till, the portal and the join page -------------------


def test_the_api_runs_the_member_use_cases_with_their_rows_and_replays(business, member, unproven, writer):
    from tests.api.helpers import assert_replay, counts, stored

    from vafa.access.models import AuditEvent

    assert writer.patch(f"/members/{member.pk}", {"first_name": "B"}).status_code == 200
    issued = writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="c-1")
    before = stored()
    assert_replay(issued, writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="c-1"))
    assert stored() == before
    replaced = writer.post(f"/members/{member.pk}/cards", {"replace": unproven.number}, idem="c-2")
    assert_replay(replaced, writer.post(f"/members/{member.pk}/cards", {"replace": unproven.number}, idem="c-2"))
    assert sorted(AuditEvent.objects.values_list("operation", "channel", "object_id", "action")) == sorted([
        ("member.update", "api", str(member.pk), f"PATCH /api/v1/members/{member.pk}"),
        ("card.issue", "api", issued.json()["number"], f"POST /api/v1/members/{member.pk}/cards"),
        ("card.replace", "api", replaced.json()["number"], f"POST /api/v1/members/{member.pk}/cards")])
    before = counts()
    assert writer.post(f"/members/{member.pk}/cards", {"replace": unproven.number, "kind": "nfc"}).status_code == 422
    assert writer.patch(f"/members/{member.pk}", {"email": "nope"}).status_code == 422
    assert counts() == before


def test_the_api_proves_a_mobile_with_one_row(business, member, unproven, writer, settings, tmp_path):
    from tests.api.helpers import counts
    from tests.portal.conftest import last_code

    from vafa.access.models import AuditEvent
    from vafa.messaging.services import update_settings

    settings.DATA_DIR = tmp_path
    update_settings(business, sms_provider="file", price_per_part=1000)
    assert writer.post("/otp", {"mobile": "09121234567", "purpose": "join"}).status_code == 202
    before = counts()
    assert writer.post("/otp/verify", {"mobile": "09121234567", "purpose": "join", "code": "00000"}
                       ).status_code in (422, 429)
    assert counts() == {**before, "messaging.OneTimeCode": before["messaging.OneTimeCode"]}  # a try counted, no row
    assert AuditEvent.objects.filter(operation="member.verify_mobile").count() == 0
    assert writer.post("/otp/verify", {"mobile": "09121234567", "purpose": "join", "code": last_code()}
                       ).json() == {"mobile": "+989121234567", "verified": True}
    event = AuditEvent.objects.get(operation="member.verify_mobile")
    assert (event.channel, event.object_id, event.actor_kind) == ("api", str(member.pk), "api_key")
    member.refresh_from_db()
    assert member.mobile_verified


def test_the_panel_runs_the_member_use_cases_with_their_rows_and_replays(
        business, member, unproven, signed_in):  # noqa: F811
    from tests.api.helpers import counts

    from vafa.access.models import AuditEvent

    client = signed_in("owner")
    page = client.get(f"/panel/members/{member.pk}/").content.decode()
    assert 'name="key"' in page
    edit = {"mobile": member.mobile, "first_name": "B", "last_name": "رضایی", "gender": ""}
    assert client.post(f"/panel/members/{member.pk}/edit", edit).status_code == 302
    assert client.post(f"/panel/members/{member.pk}/cards/issue", {"key": "p-1"}).status_code == 302
    assert client.post(f"/panel/members/{member.pk}/cards/issue", {"key": "p-1"}).status_code == 302  # twice
    replace = {"number": unproven.number, "key": "p-2"}
    assert client.post(f"/panel/members/{member.pk}/cards/replace", replace).status_code == 302
    assert client.post(f"/panel/members/{member.pk}/cards/replace", replace).status_code == 302  # twice
    assert client.post(f"/panel/members/{member.pk}/status", {"status": "blocked"}).status_code == 302
    assert Card.objects.filter(member=member).count() == 3  # the first, one issued, one replacement
    issued = Card.objects.filter(member=member, status="active").order_by("id").first()
    for _ in range(2):
        assert client.post(f"/panel/members/{member.pk}/cards/lost", {"number": issued.number, "key": "p-3"}
                           ).status_code == 302
    assert sorted(AuditEvent.objects.values_list("operation", "channel", "actor_kind")) == sorted([
        ("member.update", "panel", "operator"), ("card.issue", "panel", "operator"),
        ("card.replace", "panel", "operator"), ("member.update", "panel", "operator"),
        ("card.lost", "panel", "operator")])
    before = counts()
    response = client.post(f"/panel/members/{member.pk}/edit", {**edit, "email": "nope"})
    assert response.status_code == 422 and "email" in response.content.decode()
    assert client.post(f"/panel/members/{member.pk}/cards/issue", {"kind": "nfc"}).status_code == 422
    assert counts() == before  # no change, no row (panel.post neither)


def test_the_till_replaces_a_card_once_with_one_row(business, member, unproven, signed_in):  # noqa: F811
    from vafa.access.models import AuditEvent

    client = signed_in("cashier", branch="t1")
    assert 'name="key"' in client.get(f"/till/t1/m/{member.pk}/").content.decode()
    for _ in range(2):  # a second tap on the same page: the same new card
        assert client.post(f"/till/t1/m/{member.pk}/card", {"number": unproven.number, "key": "t-1"}
                           ).status_code == 302
    assert Card.objects.filter(member=member).count() == 2
    event = AuditEvent.objects.get()
    assert (event.operation, event.channel, event.action) == (
        "card.replace", "till", f"POST /till/t1/m/{member.pk}/card")
    assert client.post(f"/till/t1/m/{member.pk}/card", {"number": "6000000000000000"}).status_code == 404
    assert AuditEvent.objects.count() == 1


def test_the_portal_and_the_join_page_run_the_member_use_cases(business, member, settings, tmp_path):
    from django.test import Client
    from tests.portal.conftest import last_code

    from vafa.access.models import AuditEvent
    from vafa.messaging.services import update_settings
    from vafa.portal.session import session_key

    settings.DATA_DIR = tmp_path
    update_settings(business, sms_provider="file", price_per_part=1000)
    visitor = Client(REMOTE_ADDR="10.0.0.5")
    visitor.post("/join/cafe/", {"mobile": "09351112222", "first_name": "سارا", "ref": "", "source": ""})
    visitor.post("/join/cafe/", {"mobile": "+989351112222", "code": last_code()})
    joined = Member.objects.get(business=business, mobile="+989351112222")
    assert joined.mobile_verified
    event = AuditEvent.objects.get(operation="member.verify_mobile")
    assert (event.channel, event.object_id, event.actor_label, event.actor_ip) == (
        "portal", str(joined.pk), "self sign-up", "10.0.0.5")

    client = Client()
    session = client.session
    session[session_key(business)] = member.pk
    session.save()
    assert client.post("/m/cafe/profile/", {"first_name": "مریم", "marketing": "on"}).status_code == 302
    event = AuditEvent.objects.get(operation="member.update")
    assert (event.channel, event.object_id, event.actor_kind, event.params["first_name"]) == (
        "portal", str(member.pk), "member", "مریم")
    assert client.post("/m/cafe/profile/", {"email": "nope", "marketing": "on"}).status_code == 400
    assert AuditEvent.objects.filter(operation="member.update").count() == 1
