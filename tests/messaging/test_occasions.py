"""Expiry reminders (one message per member, never twice for the same lots) and greetings (once a year)."""

import datetime as dt

import jdatetime
from django.utils import timezone
from tests.messaging.conftest import sent_lines

from vafa.core.calendar import format_date
from vafa.ledger.tasks import remind_expiring
from vafa.members.services import update_member
from vafa.messaging.occasions import greet_occasions
from vafa.messaging.services import send_due, update_settings
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
    assert remind_expiring(now) == 2  # two lots within the program's 30 reminder days
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
    update_member(file_business, member.pk, birth_date=jdatetime.date(1370, 5, 20).togregorian().isoformat())
    assert greet_occasions(tehran_noon(1405, 4, 31)) == 0  # Tir: not yet
    assert greet_occasions(tehran_noon(1405, 5, 1)) == 1  # the first of Mordad
    assert greet_occasions(tehran_noon(1405, 5, 20)) == 0  # once in the month
    assert greet_occasions(tehran_noon(1406, 5, 3)) == 1  # and again next year
    send_due(tehran_noon(1406, 5, 3))
    assert [line["text"].split("\n")[0] for line in sent_lines("birthday")] == ["علی عزیز، تولدتان مبارک!"] * 2


def test_birthday_on_the_day_and_holidays_from_the_editable_list(file_business, member):
    update_settings(file_business, holidays=[{"month": 9, "day": 30, "name_fa": "شب یلدا", "name_en": "Yalda"}])
    update_member(file_business, member.pk, birth_date=jdatetime.date(1370, 9, 30).togregorian().isoformat())
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
