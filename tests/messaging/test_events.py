"""Outbox events → transactional messages: one purchase's events are one SMS with the right numbers."""

import datetime as dt

from django.utils import timezone
from tests.messaging.conftest import sent_lines

from vafa.core.calendar import format_date
from vafa.messaging.models import Message
from vafa.messaging.services import update_settings
from vafa.messaging.tasks import send_due
from vafa.outbox.services import deliver_due
from vafa.purchases.services import record_purchase
from vafa.vouchers.services import create_code, create_definition

AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)


def run_worker(now=None):
    deliver_due(now)
    return send_due(now)


def test_one_purchase_with_earn_spend_and_a_code_is_one_sms(file_business, member, settings):
    business = file_business
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-0", total=1_000_000, occurred_at=AT)
    run_worker()
    assert len(sent_lines("balance_update")) == 1  # the first purchase: 100 points earned
    definition = create_definition(business, name="ده درصد", kind="percent", percent=10)
    create_code(definition, "SPRING")
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-1", total=2_000_000,
                    redeem_points=100, codes=["SPRING"], occurred_at=AT + dt.timedelta(hours=1))
    run_worker()
    lines = sent_lines("balance_update")
    assert len(lines) == 2
    last = lines[-1]
    assert (last["channel"], last["to"], last["member_id"], last["kind"]) == ("file", "+989121234567", member.pk,
                                                                              "balance_update")
    # 2,000,000 − 10% = 1,800,000 − 10,000 paid with 100 points = 1,790,000 earns 170 points; 100 − 100 + 170
    assert last["text"] == (
        "علی عزیز،\n"
        "۱۷۰ امتیاز از خرید امروزتان به حسابتان اضافه شد.\n"
        "۱۰۰ امتیاز از حسابتان در این خرید استفاده شد.\n"
        "کد تخفیف SPRING روی خریدتان اعمال شد.\n"
        "موجودی شما: ۱۷۰ امتیاز\n"
        # the 170 points left are the second purchase's, an hour after the first (another day near midnight)
        f"نزدیک‌ترین انقضا: {format_date(timezone.localtime(AT + dt.timedelta(hours=1, days=365)).date())}\n"
        f"{settings.PUBLIC_URL}/m/cafe/\n"
        "کافه وفا")
    row = Message.objects.get(pk=last["message_id"])
    assert (row.state, row.parts, row.cost) == ("delivered", row.parts, row.parts * 1000) and row.parts >= 3


def test_a_kind_turned_off_is_left_out_and_nothing_left_means_no_sms(file_business, member):
    update_settings(file_business, disabled_kinds=["points_earned"])
    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="R-1", total=1_000_000)
    run_worker()
    assert sent_lines("balance_update") == []
    assert Message.objects.get(kind="balance_update").state == "skipped"


def test_handling_an_event_twice_sends_one_message(file_business, member):
    from vafa.messaging.events import take_event
    from vafa.outbox.models import OutboxEvent

    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="R-1", total=1_000_000)
    event = OutboxEvent.objects.get(event_type="points.earned")
    take_event(event)
    take_event(event)
    run_worker()
    [line] = sent_lines("balance_update")
    assert line["text"].count("۱۰۰ امتیاز از خرید") == 1


def test_welcome_with_the_referral_link(file_business, settings):
    from vafa.members.services import sign_up

    sara = sign_up(file_business, mobile="09350000001", first_name="سارا")
    run_worker()
    [line] = sent_lines()
    assert line["kind"] == "welcome"
    assert f"{settings.PUBLIC_URL}/join/cafe/?ref={sara.code}" in line["text"]


def test_gift_request_also_goes_to_the_admin_mobile(file_business, member):
    from vafa.messaging.events import _gift_message

    update_settings(file_business, admin_mobile="09120000000")
    from vafa.outbox.models import OutboxEvent
    from vafa.outbox.services import emit

    event = emit(file_business.pk, "gift.requested", {"member_id": member.pk, "title": "ماگ"})
    _gift_message(member, "gift_requested", event.payload, OutboxEvent.objects.get(pk=event.pk), set())
    send_due()
    assert sorted((line["to"], line["kind"]) for line in sent_lines() if line["kind"] != "welcome") == [
        ("+989120000000", "gift_requested_admin"), ("+989121234567", "gift_requested")]


def test_a_return_tells_the_corrected_balance(file_business, member):
    from vafa.purchases.services import return_purchase

    sale = record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="R-1", total=1_000_000)
    run_worker()
    return_purchase(file_business, sale["purchase_id"], amount=500_000)
    run_worker()
    last = sent_lines("balance_update")[-1]["text"].split("\n")
    assert last[:3] == ["علی عزیز،", "مرجوعی خریدتان ثبت شد و حسابتان اصلاح شد.", "موجودی شما: ۵۰ امتیاز"]


def test_a_gift_request_its_fulfilment_and_shipping_are_told(file_business, member):
    from vafa.catalogue.services import create_gift, fulfil_request, request_gift, ship_request
    from vafa.members.balances import adjust

    adjust(file_business, member.pk, "points", 500, reason="x")
    gift = create_gift(file_business, title="ماگ وفا", price_currency="points", price=300, stock=2)
    asked = request_gift(file_business, member.pk, gift.pk)
    fulfil_request(file_business, asked["id"])
    ship_request(file_business, asked["id"], shipping_note="پست")
    run_worker()
    texts = {line["kind"]: line["text"] for line in sent_lines()}
    assert texts["gift_requested"].startswith("درخواست هدیه «ماگ وفا» شما ثبت شد")
    assert texts["gift_fulfilled"].startswith("هدیه «ماگ وفا» شما آماده شد.")
    assert texts["gift_shipped"].startswith("هدیه «ماگ وفا» شما ارسال شد.")


def test_transactional_messages_by_email_also_or_instead_as_the_business_chose(file_business, member, make_member,
                                                                               smtp_server):
    from tests.messaging.conftest import parsed_mail

    from vafa.members.services import MemberUpdate, update_member

    update_member(file_business, MemberUpdate.check(file_business, member.pk, email="ali@example.com"))
    no_email = make_member(first_name="سارا")
    update_settings(file_business, email_channel="also", email_from="club@cafe.example")
    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="M-1", total=1_000_000,
                    occurred_at=AT)
    record_purchase(file_business, member_id=no_email.pk, branch_code="t1", receipt="M-2", total=1_000_000,
                    occurred_at=AT)
    run_worker()
    assert [line["member_id"] for line in sent_lines("balance_update")] == [member.pk, no_email.pk]
    # the welcome (the member signed up with SMS on) and the purchase, each also by email
    assert [m.kind for m in Message.objects.filter(channel="email").order_by("id")] == ["welcome", "balance_update"]
    welcome, mail = (parsed_mail(raw) for raw in smtp_server)
    assert "خوش آمدید" in welcome.get_body(("plain",)).get_content()
    assert (mail["To"], mail["From"], mail["Subject"]) == ("ali@example.com", "club@cafe.example", "کافه وفا")
    plain = mail.get_body(("plain",)).get_content()
    assert plain.strip() == sent_lines("balance_update")[0]["text"]
    assert "۱۰۰ امتیاز از خرید امروزتان به حسابتان اضافه شد." in plain
    assert 'dir="rtl"' in mail.get_body(("html",)).get_content()

    update_settings(file_business, email_channel="instead")
    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="M-3", total=500_000,
                    occurred_at=AT + dt.timedelta(hours=1))
    run_worker()
    assert len(sent_lines("balance_update")) == 2  # no SMS this time
    assert len(smtp_server) == 3
    assert "۵۰ امتیاز" in parsed_mail(smtp_server[2]).get_body(("plain",)).get_content()
    emailed = Message.objects.filter(business=file_business, channel="email").order_by("id")
    assert [(m.to, m.state, m.parts, m.cost) for m in emailed] == [("ali@example.com", "sent", 0, 0)] * 3
