"""Jalali and Gregorian dates: parse what people type, show what they expect."""

import datetime as dt
import functools
import re

import jdatetime

from vafa.core.digits import to_ascii_digits, to_persian_digits
from vafa.core.errors import InvalidInput

_DATE = re.compile(r"^\s*(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})\s*$")
JALALI_MONTHS = ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
                 "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"]


def parse_date(value: "str | dt.date", field: str = "date") -> dt.date:
    """ISO dates, and Jalali dates written 1403/05/12 (a year before 1700 can only be Jalali)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    match = _DATE.match(to_ascii_digits(str(value)))
    if not match:
        raise InvalidInput(field, "not_a_date")
    year, month, day = (int(g) for g in match.groups())
    try:
        if year < 1700:
            return jdatetime.date(year, month, day).togregorian()
        return dt.date(year, month, day)
    except ValueError as exc:
        raise InvalidInput(field, "impossible_date") from exc


def format_date(value: dt.date, calendar: str = "jalali", language: str = "fa") -> str:
    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        text = f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
    else:
        text = value.isoformat()
    return to_persian_digits(text) if language == "fa" else text


@functools.lru_cache(maxsize=4096)  # pure; the Jalali conversion is costly per purchase (caps, backtest)
def month_start(value: dt.date, calendar: str) -> dt.date:
    """First day of the month holding value, in the business calendar."""
    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        return jdatetime.date(j.year, j.month, 1).togregorian()
    return value.replace(day=1)


@functools.lru_cache(maxsize=4096)
def year_start(value: dt.date, calendar: str) -> dt.date:
    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        return jdatetime.date(j.year, 1, 1).togregorian()
    return value.replace(month=1, day=1)


def birth_month(value: dt.date, calendar: str) -> int:
    if calendar == "jalali":
        return jdatetime.date.fromgregorian(date=value).month
    return value.month


def add_months(value: dt.date, months: int, calendar: str) -> dt.date:
    """The same day `months` later in the business calendar, clamped to the month's last day (a Jalali
    plan bought on 31 Shahrivar renews on 30 Mehr; a Gregorian one bought on 31 January, on 28/29 February)."""
    if calendar == "jalali":
        j = jdatetime.date.fromgregorian(date=value)
        index = j.year * 12 + (j.month - 1) + months
        year, month = divmod(index, 12)
        month += 1
        last = 31 if month <= 6 else 30 if month <= 11 else (30 if jdatetime.date(year, 1, 1).isleap() else 29)
        return jdatetime.date(year, month, min(j.day, last)).togregorian()
    index = value.year * 12 + (value.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, min(value.day, (next_first - dt.timedelta(days=1)).day))
