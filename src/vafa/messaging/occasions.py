"""Greetings on occasions (F40, F52): birthday (on the day, or once in the Jalali birth month), marriage
anniversary, membership anniversary and the business calendar's holidays (a built-in Jalali list the business
can edit). Once a year per occasion and member: the dedupe key names the occasion and the year. Informational
messages; members who opted out of everything get none.

Each greeting may carry a gift (`occasion_gifts` in the messaging settings, per occasion and tier): points or
gift credit through the ledger, or a single-use code of a voucher definition. The gift, its greeting and the
message's dedupe key are written in one transaction under the member's lock, so a rerun of the job (or two
workers at once) grants it once. A birthday gift the program itself defines (`birthday_gift`, granted by the
ledger's job in the birth month) comes first: the birthday greeting then tells that one."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import jdatetime
from django.db import transaction
from django.utils import timezone

from vafa.core.calendar import year_start
from vafa.core.errors import NotFound
from vafa.ledger import services as ledger
from vafa.ledger.models import Entry
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.messaging import selectors, services, templates
from vafa.messaging.models import Message, MessagingSettings, Provider
from vafa.messaging.occasion_settings import holidays_of
from vafa.messaging.selectors import amount_text
from vafa.outbox.services import emit
from vafa.program.selectors import active_program
from vafa.vouchers.models import VoucherDefinition
from vafa.vouchers.services import generate_codes

# The ledger entry's reason, in the business's language; {name} is the holiday's.
GIFT_REASONS = {"birthday": {"fa": "هدیه تولد", "en": "Birthday gift"},
                "marriage_anniversary": {"fa": "هدیه سالگرد ازدواج", "en": "Wedding anniversary gift"},
                "membership_anniversary": {"fa": "هدیه سالگرد عضویت", "en": "Membership anniversary gift"},
                "holiday": {"fa": "هدیه {name}", "en": "{name} gift"}}
GIFT_CODE_TEXT = {"fa": "کد هدیه {code}", "en": "gift code {code}"}

def gift_for(conf, kind: str, tier: str) -> dict | None:
    by_tier = conf.occasion_gifts.get(kind) or {}
    return by_tier.get(tier or "") or by_tier.get("*")


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
    """Queue today's greetings (with their gifts) for every business that sends messages; answers how many were
    queued."""
    now = now or timezone.now()
    queued = 0
    for conf in (MessagingSettings.objects.select_related("business")
                 .exclude(sms_provider=Provider.NONE, email_channel="off")):
        business = conf.business
        local = now.astimezone(ZoneInfo(business.timezone))
        if local.hour < int(conf.quiet_start[:2]):
            continue  # greetings go in the morning, not at midnight
        today = local.date()
        holidays = holidays_of(conf)
        disabled = set(conf.disabled_kinds)
        try:
            _, document = active_program(business)
        except NotFound:
            document = None  # no program yet: greetings and the messaging settings' gifts only
        for member in Member.objects.filter(business=business, status=Member.Status.ACTIVE).iterator(chunk_size=2000):
            for kind, key, holiday in occasions_today(member, today, business.calendar, conf.birthday_on, holidays):
                dedupe_key = f"{key}:{member.pk}"
                if kind in disabled or Message.objects.filter(business=business, dedupe_key=dedupe_key).exists():
                    continue
                try:
                    with transaction.atomic():
                        if _greet(conf, document, member, kind, key, holiday, dedupe_key, today, now) is None:
                            raise services.AlreadyQueued
                except services.AlreadyQueued:
                    continue  # another run greeted first: its gift stands, this one's is undone
                queued += 1
    return queued


def _greet(conf, document, member, kind: str, key: str, holiday, dedupe_key: str, today: dt.date,
           now: dt.datetime):
    """The greeting and its gift, in the caller's transaction, under the member's lock. None when the greeting
    was queued already (the caller rolls the gift back)."""
    business = conf.business
    member = lock_member(member.pk, business.pk)
    name = holiday.get(f"name_{business.language}", "") if holiday else ""
    values = selectors.member_values(business, member, now, code=name)
    if kind == "birthday" and document is not None and document.birthday_gift is not None:
        values["amount"] = values["gift"] = _birthday_gift_text(business, member, today)
    else:
        gift = gift_for(conf, kind, member.tier)
        if gift is not None:
            values |= _grant(business, document, member, kind, key, name, gift, now)
    text = templates.render(selectors.template_text(business, kind), values)
    return services.queue_message(business, member=member, kind=kind, text=text, dedupe_key=dedupe_key, at=now)


def _grant(business, document, member, kind: str, key: str, name: str, gift: dict, now: dt.datetime) -> dict:
    """Give one occasion's gift; answers the template values that tell it ({gift}, and {amount} or {code})."""
    if "voucher_definition_id" in gift:
        definition = VoucherDefinition.objects.get(business_id=business.pk, pk=gift["voucher_definition_id"])
        [code] = generate_codes(definition, 1, prefix="G")
        text = GIFT_CODE_TEXT[business.language].format(code=code)
        return {"gift": text} if kind == "holiday" else {"gift": text, "code": code}  # a holiday's {code} is its name
    currency, amount = gift["currency"], gift["amount"]
    days = gift.get("expiry_days") or (document.settings.currency(currency).expiry_days if document else None)
    ledger.credit(member, currency, amount, reason=GIFT_REASONS[kind][business.language].format(name=name), at=now,
                  source=f"occasion:{key}"[:64], expires_at=now + dt.timedelta(days=days) if days else None)
    # "occasion": the greeting tells this credit, not a balance-change SMS of its own (messaging.events)
    emit(business.pk, "points.earned" if currency == "points" else "credit.earned",
         {"member_id": member.pk, "currency": currency, "amount": amount, "occasion": kind})
    text = amount_text(business, amount, currency)
    return {"gift": text, "amount": text}


def _birthday_gift_text(business, member, today: dt.date) -> str:
    """The gift credit the program granted for this birthday (members.balances.grant_birthday_gifts), if any."""
    source = f"grant:birthday:{year_start(today, business.calendar).isoformat()[:4]}"  # as the grant writes it
    entry = Entry.objects.filter(business_id=business.pk, member=member, source=source).first()
    return amount_text(business, entry.amount, "gift_credit") if entry else ""
