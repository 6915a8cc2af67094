"""Pure helpers: mobile numbers, Luhn, dates, money formatting, exact arithmetic."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vafa.core.arith import apportion, cumulative_share, round_fraction
from vafa.core.calendar import format_date, parse_date
from vafa.core.errors import InvalidInput
from vafa.core.luhn import check_digit, is_valid
from vafa.core.money import format_amount, format_number, group_thousands
from vafa.core.phone import normalize_mobile

# --- mobile numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "09121234567",
    "+989121234567",
    "989121234567",
    "9121234567",
    "00989121234567",
    "0912 123 4567",
    "0912-123-4567",
    "۰۹۱۲۱۲۳۴۵۶۷",  # Persian digits
    "٠٩١٢١٢٣٤٥٦٧",  # Arabic-Indic digits
    "+۹۸۹۱۲۱۲۳۴۵۶۷",
])
def test_normalize_mobile_accepts_every_spelling(raw):
    assert normalize_mobile(raw) == "+989121234567"


@pytest.mark.parametrize("raw", ["12345", "02188776655", "+982188776655", "abcdefghijk", "", "0912123456a",
                                 "091212345678901"])
def test_normalize_mobile_rejects(raw):
    with pytest.raises(InvalidInput) as info:
        normalize_mobile(raw)
    assert info.value.errors[0]["field"] == "mobile"


@pytest.mark.parametrize("raw", ["0912abc4567", "0912ABCDEFG"])
def test_normalize_mobile_rejects_letters_inside_the_number(raw):
    # Letters are not a spelling of a mobile number: turning "abc" into "222" (phone keypad letters) silently
    # registers somebody else's number.
    with pytest.raises(InvalidInput):
        normalize_mobile(raw)


def test_normalize_mobile_landline_is_not_a_mobile():
    with pytest.raises(InvalidInput) as info:
        normalize_mobile("02188776655")
    assert info.value.errors == [{"field": "mobile", "message": "not_a_mobile"}]


def test_normalize_mobile_other_region():
    assert normalize_mobile("07400 123456", "GB") == "+447400123456"


# --- Luhn -------------------------------------------------------------------------------------------


def test_luhn_known_number():
    assert check_digit("7992739871") == "3"
    assert is_valid("79927398713")
    assert is_valid("4111111111111111")


@pytest.mark.parametrize("number", ["79927398710", "79927398714", "79927398703", "69927398713", "97927398713"])
def test_luhn_one_changed_digit_or_swap_is_invalid(number):
    assert not is_valid(number)


@pytest.mark.parametrize("number", ["", "3", "7992739871a", "7992-7398713"])
def test_luhn_rejects_non_numbers(number):
    assert not is_valid(number)


def test_luhn_every_check_digit_round_trips():
    for payload in ("6", "60", "6037991234567", "603799123456789", "000000000000000"):
        number = payload + check_digit(payload)
        assert is_valid(number)
        wrong = payload + str((int(check_digit(payload)) + 1) % 10)
        assert not is_valid(wrong)


# --- dates ------------------------------------------------------------------------------------------


def test_parse_jalali_date():
    assert parse_date("1403/05/12") == dt.date(2024, 8, 2)
    assert parse_date("1403/01/01") == dt.date(2024, 3, 20)
    assert parse_date("1370/01/01") == dt.date(1991, 3, 21)
    assert parse_date("1403-5-12") == dt.date(2024, 8, 2)


def test_parse_iso_date():
    assert parse_date("2024-08-02") == dt.date(2024, 8, 2)
    assert parse_date("2024/8/2") == dt.date(2024, 8, 2)
    assert parse_date(dt.date(2020, 1, 31)) == dt.date(2020, 1, 31)
    assert parse_date(dt.datetime(2020, 1, 31, 23, 59)) == dt.date(2020, 1, 31)


def test_parse_persian_and_arabic_digits():
    assert parse_date("۱۴۰۳/۰۵/۱۲") == dt.date(2024, 8, 2)
    assert parse_date("١٤٠٣/٠٥/١٢") == dt.date(2024, 8, 2)
    assert parse_date("۲۰۲۴-۰۸-۰۲") == dt.date(2024, 8, 2)


@pytest.mark.parametrize("value", ["1403/13/01", "1403/12/31", "1402/12/30", "2025-02-30", "2025-13-01", "1403/00/10"])
def test_parse_impossible_dates(value):
    with pytest.raises(InvalidInput) as info:
        parse_date(value, "birth_date")
    assert info.value.errors == [{"field": "birth_date", "message": "impossible_date"}]


@pytest.mark.parametrize("value", ["", "yesterday", "12/05/1403", "1403/05", "14030512"])
def test_parse_garbage(value):
    with pytest.raises(InvalidInput) as info:
        parse_date(value)
    assert info.value.errors == [{"field": "date", "message": "not_a_date"}]


def test_format_date():
    assert format_date(dt.date(2024, 8, 2)) == "۱۴۰۳/۰۵/۱۲"
    assert format_date(dt.date(2024, 8, 2), "jalali", "en") == "1403/05/12"
    assert format_date(dt.date(2024, 8, 2), "gregorian", "en") == "2024-08-02"


# --- money ------------------------------------------------------------------------------------------


def test_format_amount():
    assert format_amount(250000, "IRT", "fa") == "۲۵۰٬۰۰۰ تومان"
    assert format_amount(1050, "USD", "en") == "10.50 USD"
    assert format_amount(250000, "IRT", "en") == "250,000 Toman"
    assert format_amount(5, "USD", "en") == "0.05 USD"
    assert format_amount(-1050, "USD", "en") == "-10.50 USD"
    assert format_amount(0, "IRR", "fa") == "۰ ریال"
    assert format_amount(1234567, "JPY", "en") == "1,234,567 JPY"


def test_group_thousands_and_format_number():
    assert group_thousands(1234567, ",") == "1,234,567"
    assert group_thousands(-1000, ",") == "-1,000"
    assert group_thousands(999, ",") == "999"
    assert format_number(1500) == "۱٬۵۰۰"
    assert format_number(1500, "en") == "1,500"


# --- arithmetic -------------------------------------------------------------------------------------


def test_round_fraction_modes():
    assert round_fraction(Fraction(5, 2), "floor") == 2
    assert round_fraction(Fraction(5, 2), "ceil") == 3
    assert round_fraction(Fraction(5, 2), "half_up") == 3
    assert round_fraction(Fraction(7, 3), "half_up") == 2
    assert round_fraction(Fraction(8, 3), "half_up") == 3
    assert round_fraction(Fraction(-5, 2), "floor") == -3
    assert round_fraction(Fraction(-5, 2), "ceil") == -2
    assert round_fraction(Fraction(-5, 2), "half_up") == -3  # away from zero
    assert round_fraction(Fraction(-7, 3), "half_up") == -2
    assert round_fraction(Fraction(6, 3), "ceil") == 2
    assert round_fraction(Fraction(0), "ceil") == 0


def test_apportion_sums_exactly():
    assert apportion(100, [1, 1, 1]) == [34, 33, 33]
    assert apportion(10, [0, 0]) == [10, 0]
    assert apportion(7, []) == []
    assert apportion(1000, [333, 333, 334]) == [333, 333, 334]
    assert apportion(5, [1, 2]) == [2, 3]
    for total in (0, 1, 99, 12_345, 10**12 + 7):
        for weights in ([1], [3, 7], [1, 1, 1, 1, 1, 1, 1], [10**9, 1, 17], [0, 5, 0, 5]):
            parts = apportion(total, weights)
            assert sum(parts) == total
            assert all(p >= 0 for p in parts)
            assert len(parts) == len(weights)


def _apportion_by_fractions(total: int, weights: list[int]) -> list[int]:
    """The Fraction-based split apportion had before its integer form (largest remainder, ties to the earlier)."""
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [total] + [0] * (len(weights) - 1)
    shares = [Fraction(total * w, weight_sum) for w in weights]
    parts = [round_fraction(s, "floor") for s in shares]
    order = sorted(range(len(weights)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[:total - sum(parts)]:
        parts[i] += 1
    return parts


@given(st.integers(-10**13, 10**13), st.lists(st.integers(-10**6, 10**9), max_size=8))
def test_apportion_in_integers_equals_the_split_by_fractions(total, weights):
    assert apportion(total, weights) == _apportion_by_fractions(total, weights)


def test_cumulative_share():
    assert cumulative_share(70, 0, 50, 100) == 35
    assert cumulative_share(70, 50, 50, 100) == 35
    assert cumulative_share(150, 0, 50, 100) == 75
    assert cumulative_share(5, 0, 1, 2) == 3
    assert cumulative_share(5, 1, 1, 2) == 2
    assert cumulative_share(10, 0, 0, 100) == 0
    assert cumulative_share(10, 0, 100, 0) == 0
    assert cumulative_share(10, 90, 50, 100) == 1  # capped at the whole


def test_cumulative_share_steps_sum_to_amount():
    for amount in (1, 7, 70, 999):
        for steps in ([1, 1, 1], [33, 33, 34], [1, 98, 1], [50, 50]):
            whole = sum(steps)
            done = 0
            total = 0
            for step in steps:
                total += cumulative_share(amount, done, step, whole)
                done += step
            assert total == amount
