"""Currencies and how amounts are written. Amounts are always integers in the minor unit."""

from dataclasses import dataclass

from django.utils import translation

from vafa.core.digits import to_persian_digits


@dataclass(frozen=True)
class Currency:
    code: str
    minor_unit: int  # digits after the decimal point; 0 for Toman and Rial
    name_fa: str
    name_en: str


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in [
        Currency("IRT", 0, "تومان", "Toman"),
        Currency("IRR", 0, "ریال", "Rial"),
        Currency("USD", 2, "دلار", "USD"),
        Currency("EUR", 2, "یورو", "EUR"),
        Currency("GBP", 2, "پوند", "GBP"),
        Currency("AED", 2, "درهم", "AED"),
        Currency("TRY", 2, "لیر", "TRY"),
        Currency("JPY", 0, "ین", "JPY"),
    ]
}

CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]


def currency_choices() -> list[tuple[str, str]]:
    """A form's choices, named in the active language (a Persian owner picks "تومان", not "IRT")."""
    persian = (translation.get_language() or "fa").startswith("fa")
    return [(c.code, c.name_fa if persian else c.name_en) for c in CURRENCIES.values()]


def group_thousands(number: int, separator: str) -> str:
    return f"{number:,}".replace(",", separator)


def format_amount(amount: int, currency_code: str, language: str = "fa") -> str:
    """250000 IRT in Persian is '۲۵۰٬۰۰۰ تومان'; 1050 USD in English is '10.50 USD'."""
    currency = CURRENCIES[currency_code]
    whole, minor = divmod(abs(amount), 10**currency.minor_unit) if currency.minor_unit else (abs(amount), 0)
    sign = -1 if amount < 0 else 1
    if language == "fa":
        text = group_thousands(sign * whole, "٬")
        if currency.minor_unit:
            text += "٫" + str(minor).zfill(currency.minor_unit)
        return f"{to_persian_digits(text)} {currency.name_fa}"
    text = group_thousands(sign * whole, ",")
    if currency.minor_unit:
        text += "." + str(minor).zfill(currency.minor_unit)
    return f"{text} {currency.name_en}"


def format_number(number: int, language: str = "fa") -> str:
    if language == "fa":
        return to_persian_digits(group_thousands(number, "٬"))
    return group_thousands(number, ",")
