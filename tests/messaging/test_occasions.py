"""Expiry reminders (one message per member, never twice for the same lots) and greetings (once a year)."""

import datetime as dt

import jdatetime
from django.utils import timezone
from tests.messaging.conftest import sent_lines

from vafa.core.calendar import format_date
from vafa.members.services import MemberUpdate, update_member
from vafa.messaging.occasions import greet_occasions
from vafa.messaging.services import update_settings
from vafa.messaging.tasks import remind_expiring, send_due
from vafa.outbox.services import deliver_due
from vafa.purchases.services import record_purchase


def test_expiry_reminder_one_message_with_the_total_and_the_first_date(file_business, member):
    now = timezone.now()
    first = now - dt.timedelta(days=345)  # points live 365 days: these expire in 20 and 22 days
    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="E-1", total=1_000_000,
                    occurred_at=first)
    record_purchase(file_business, member_id=member.pk, branch_code="t1", receipt="E-2", total=500_000,
                    occurred_at=first + dt.timedelta(days=2))
    update_settings(file_business, disabled_kinds=["points_earned"])  # only the reminder in this test
    assert remind_expiring(now) == 0  # the default: 7 days before
    update_settings(file_business, expiry_reminder_days=30)
    assert remind_expiring(now) == 2  # two lots within the business's 30 reminder days
    deliver_due()
    send_due()
    [line] = sent_lines("expiry_reminder")
    expires = format_date(timezone.localtime(first + dt.timedelta(days=365)).date())
    assert line["text"].startswith(f"علی عزیز، ۱۵۰ امتیاز از اعتبار شما در {expires} منقضی می‌شود.")
    assert remind_expiring(now + dt.timedelta(days=1)) == 0  # each lot once
    deliver_due()
    send_due()
    assert len(sent_lines("expiry_reminder")) == 1


def tehran_noon(year, month, day):
    gregorian = jdatetime.date(year, month, day).togregorian()
    return dt.datetime(gregorian.year, gregorian.month, gregorian.day, 8, 30, tzinfo=dt.UTC)


def test_birthday_in_the_jalali_birth_month_once_a_year(file_business, member):
    update_settings(file_business, birthday_on="month", holidays=[{"month": 12, "day": 1, "name_fa": "x"}])
    born = jdatetime.date(1370, 5, 20).togregorian().isoformat()
    update_member(file_business, MemberUpdate.check(file_business, member.pk, birth_date=born))
    assert greet_occasions(tehran_noon(1405, 4, 31)) == 0  # Tir: not yet
    assert greet_occasions(tehran_noon(1405, 5, 1)) == 1  # the first of Mordad
    assert greet_occasions(tehran_noon(1405, 5, 20)) == 0  # once in the month
    assert greet_occasions(tehran_noon(1406, 5, 3)) == 1  # and again next year
    send_due(tehran_noon(1406, 5, 3))
    assert [line["text"].split("\n")[0] for line in sent_lines("birthday")] == ["علی عزیز، تولدتان مبارک!"] * 2


def test_birthday_on_the_day_and_holidays_from_the_editable_list(file_business, member):
    update_settings(file_business, holidays=[{"month": 9, "day": 30, "name_fa": "شب یلدا", "name_en": "Yalda"}])
    born = jdatetime.date(1370, 9, 30).togregorian().isoformat()
    update_member(file_business, MemberUpdate.check(file_business, member.pk, birth_date=born))
    yalda = tehran_noon(1405, 9, 30)
    assert greet_occasions(yalda - dt.timedelta(days=1)) == 0
    assert greet_occasions(yalda) == 2  # the birthday and Yalda
    assert greet_occasions(yalda + dt.timedelta(hours=2)) == 0  # once
    send_due(yalda)
    texts = sorted(line["text"] for line in sent_lines())
    assert any(text.startswith("علی عزیز، شب یلدا مبارک!") for text in texts)
    assert any(text.startswith("علی عزیز، تولدتان مبارک!") for text in texts)


def test_no_greeting_at_night_or_to_a_member_who_opted_out_of_everything(file_business, member):
    from vafa.messaging.services import opt_out

    update_settings(file_business, holidays=[{"month": 1, "day": 1, "name_fa": "نوروز"}])
    nowruz = jdatetime.date(1405, 1, 1).togregorian()
    night = dt.datetime(nowruz.year, nowruz.month, nowruz.day, 1, 0, tzinfo=dt.UTC)  # 04:30 in Tehran
    assert greet_occasions(night) == 0
    opt_out(file_business, member, everything=True)
    greet_occasions(night + dt.timedelta(hours=6))
    send_due(night + dt.timedelta(hours=6))
    assert sent_lines("holiday") == []


def test_an_occasion_gift_by_tier_through_the_ledger_and_vouchers_once_a_year(file_business, member):
    from vafa.ledger.check import check_ledger
    from vafa.ledger.models import Entry
    from vafa.ledger.selectors import balances
    from vafa.members.models import Member
    from vafa.messaging.selectors import amount_text
    from vafa.vouchers.models import VoucherCode
    from vafa.vouchers.services import create_definition

    coffee = create_definition(file_business, name="قهوه رایگان", kind="fixed", amount=100_000)
    update_settings(file_business, occasion_gifts={"membership_anniversary": {
        "*": {"currency": "gift_credit", "amount": 50_000, "expiry_days": 30},
        "gold": {"voucher_definition_id": coffee.pk}}})
    Member.objects.filter(pk=member.pk).update(joined_at=tehran_noon(1404, 3, 10))
    day = tehran_noon(1405, 3, 10)
    assert greet_occasions(day) == 1
    assert greet_occasions(day + dt.timedelta(hours=3)) == 0  # a rerun of the job grants nothing more
    [entry] = Entry.objects.filter(business=file_business, member=member, source="occasion:membership:1405")
    assert (entry.currency, entry.amount) == ("gift_credit", 50_000)
    assert balances(member, day)["gift_credit"]["available"] == 50_000
    send_due(day)
    [line] = sent_lines("membership_anniversary")
    assert f"هدیه شما: {amount_text(file_business, 50_000, 'gift_credit')}" in line["text"].split("\n")

    Member.objects.filter(pk=member.pk).update(tier="gold")  # the next year, a gold member gets the voucher
    next_year = tehran_noon(1406, 3, 10)
    assert greet_occasions(next_year) == 1
    [code] = VoucherCode.objects.filter(business=file_business, definition=coffee).values_list("code", flat=True)
    send_due(next_year)
    assert f"هدیه شما: کد هدیه {code}" in sent_lines("membership_anniversary")[-1]["text"]
    assert Entry.objects.filter(business=file_business, member=member, source__startswith="occasion:").count() == 1
    assert check_ledger() == []


def test_a_greeting_queued_by_another_run_undoes_this_runs_gift(file_business, member, monkeypatch):
    from vafa.ledger.models import Entry
    from vafa.messaging import services

    update_settings(file_business, holidays=[{"month": 9, "day": 30, "name_fa": "شب یلدا"}],
                    occasion_gifts={"holiday": {"*": {"currency": "points", "amount": 200}}})
    monkeypatch.setattr(services, "queue_message", lambda *args, **kwargs: None)  # the twin won the key
    assert greet_occasions(tehran_noon(1405, 9, 30)) == 0
    assert not Entry.objects.filter(business=file_business, member=member).exists()
    monkeypatch.undo()
    assert greet_occasions(tehran_noon(1405, 9, 30)) == 1
    [entry] = Entry.objects.filter(business=file_business, member=member)
    assert (entry.currency, entry.amount, entry.source) == ("points", 200, "occasion:holiday:9-30:1405")
    from vafa.ledger.models import Lot

    expires = Lot.objects.get(business=file_business, member=member).expires_at
    assert expires == tehran_noon(1405, 9, 30) + dt.timedelta(days=365)  # the program's points expiry
    send_due(tehran_noon(1405, 9, 30))
    [line] = sent_lines("holiday")
    assert line["text"].split("\n")[:2] == ["علی عزیز، شب یلدا مبارک!", "هدیه شما: ۲۰۰ امتیاز"]


def test_greetings_need_no_program(other_business):
    from vafa.members.services import sign_up

    update_settings(other_business, sms_provider="file", holidays=[{"month": 1, "day": 1, "name_fa": "نوروز",
                                                                    "name_en": "Nowruz"}])
    sign_up(other_business, mobile="09121234567", first_name="Sam")
    nowruz = jdatetime.date(1405, 1, 1).togregorian()
    assert greet_occasions(dt.datetime(nowruz.year, nowruz.month, nowruz.day, 12, tzinfo=dt.UTC)) == 1
