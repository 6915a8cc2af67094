"""Greetings on occasions (F40, F52): birthday (on the day, or once in the Jalali birth month), marriage
anniversary, membership anniversary and the business calendar's holidays (a built-in Jalali list the business
can edit). Once a year per occasion and member: the dedupe key names the occasion and the year. Informational
messages; members who opted out of everything get none."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import jdatetime
from django.utils import timezone

from vafa.core.errors import InvalidInput

# (Jalali month, day, Persian name, English name)
BUILT_IN_HOLIDAYS = [
    {"month": 1, "day": 1, "name_fa": "نوروز", "name_en": "Nowruz"},
    {"month": 1, "day": 13, "name_fa": "روز طبیعت", "name_en": "Nature Day"},
    {"month": 7, "day": 1, "name_fa": "آغاز مهر", "name_en": "the new school year"},
    {"month": 9, "day": 30, "name_fa": "شب یلدا", "name_en": "Yalda Night"},
    {"month": 12, "day": 29, "name_fa": "پایان سال", "name_en": "the year's end"},
]


def clean_holidays(value) -> list[dict]:
    if not isinstance(value, list) or len(value) > 60:
        raise InvalidInput("holidays", "must_be_list")
    clean = []
    for i, item in enumerate(value):
        try:
            month, day = int(item["month"]), int(item["day"])
            jdatetime.date(1403, month, day)  # 1403 is a leap year: 30 Esfand exists
            names = {"name_fa": str(item["name_fa"])[:60], "name_en": str(item.get("name_en") or item["name_fa"])[:60]}
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(f"holidays.{i}", "bad_holiday") from None
        clean.append({"month": month, "day": day} | names)
    return clean


def holidays_of(conf) -> list[dict]:
    return list(conf.holidays) or BUILT_IN_HOLIDAYS


def _anniversary(value: dt.date | None, today: dt.date, calendar: str) -> bool:
    if value is None or value >= today:
        return False
    if calendar == "jalali":
        a, b = jdatetime.date.fromgregorian(date=value), jdatetime.date.fromgregorian(date=today)
        return (a.month, a.day) == (b.month, b.day)
    return (value.month, value.day) == (today.month, today.day)


def occasions_today(member, today: dt.date, calendar: str, birthday_on: str, holidays: list[dict]) -> list[tuple]:
    """(kind, occasion key, holiday name) of every greeting this member is due today. The key holds the year so
    each occasion is greeted once a year."""
    jtoday = jdatetime.date.fromgregorian(date=today)
    year = jtoday.year if calendar == "jalali" else today.year
    due = []
    if member.birth_date:
        if birthday_on == "month":
            birth = jdatetime.date.fromgregorian(date=member.birth_date) if calendar == "jalali" else member.birth_date
            if birth.month == (jtoday.month if calendar == "jalali" else today.month):
                due.append(("birthday", f"birthday:{year}", ""))
        elif _anniversary(member.birth_date, today, calendar):
            due.append(("birthday", f"birthday:{year}", ""))
    if _anniversary(member.anniversary, today, calendar):
        due.append(("marriage_anniversary", f"marriage:{year}", ""))
    if _anniversary(member.joined_at.date(), today, calendar):
        due.append(("membership_anniversary", f"membership:{year}", ""))
    for holiday in holidays:
        if (jtoday.month, jtoday.day) == (holiday["month"], holiday["day"]):
            due.append(("holiday", f"holiday:{holiday['month']}-{holiday['day']}:{jtoday.year}", holiday))
    return due


def greet_occasions(now: dt.datetime | None = None) -> int:
    """Queue today's greetings for every business that sends SMS; answers how many were queued."""
    from vafa.members.models import Member
    from vafa.messaging import selectors, services, templates
    from vafa.messaging.models import MessagingSettings, Provider

    now = now or timezone.now()
    queued = 0
    for conf in MessagingSettings.objects.select_related("business").exclude(sms_provider=Provider.NONE):
        business = conf.business
        local = now.astimezone(ZoneInfo(business.timezone))
        if local.hour < int(conf.quiet_start[:2]):
            continue  # greetings go in the morning, not at midnight
        today = local.date()
        holidays = holidays_of(conf)
        disabled = set(conf.disabled_kinds)
        for member in Member.objects.filter(business=business, status=Member.Status.ACTIVE).iterator(chunk_size=2000):
            for kind, key, holiday in occasions_today(member, today, business.calendar, conf.birthday_on, holidays):
                if kind in disabled:
                    continue
                name = holiday.get(f"name_{business.language}", "") if holiday else ""
                values = selectors.member_values(business, member, now, code=name)
                if kind == "birthday":
                    values["amount"] = _birthday_gift_text(business, member, today)
                text = templates.render(selectors.template_text(business, kind), values)
                if services.queue_message(business, member=member, kind=kind, text=text,
                                          dedupe_key=f"{key}:{member.pk}", at=now):
                    queued += 1
    return queued


def _birthday_gift_text(business, member, today: dt.date) -> str:
    """The gift credit the program granted for this birthday (ledger.tasks.grant_birthday_gifts), if any."""
    from vafa.core.calendar import year_start
    from vafa.ledger.models import Entry
    from vafa.messaging.selectors import amount_text

    source = f"grant:birthday:{year_start(today, business.calendar).isoformat()[:4]}"  # as the grant writes it
    entry = Entry.objects.filter(business_id=business.pk, member=member, source=source).first()
    return amount_text(business, entry.amount, "gift_credit") if entry else ""
