"""Mobile numbers: every accepted spelling becomes one E.164 string."""

import phonenumbers

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput


def normalize_mobile(raw: str, region: str = "IR") -> str:
    """0912…, +98912…, 98912…, 912… and Persian/Arabic digits all give +98912…."""
    text = to_ascii_digits(str(raw)).strip()
    for ch in " -()\u200c\u200f\u200e.":
        text = text.replace(ch, "")
    if not text.lstrip("+").isdigit():
        # phonenumbers would read letters as a keypad (0912ABC… → 0912222…) and sign up someone else's number.
        raise InvalidInput("mobile", "not_a_phone")
    if text.startswith("00"):
        text = "+" + text[2:]
    if region == "IR" and not text.startswith("+"):
        if text.startswith("98") and len(text) == 12:
            text = "+" + text
        elif text.startswith("9") and len(text) == 10:
            text = "+98" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("mobile", "not_a_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput("mobile", "not_a_phone")
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidInput("mobile", "not_a_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile_or_problem(raw: str, region: str, errors: list[dict]) -> str:
    """The mobile normalized, or "" with its problem added to `errors`: for the checks that answer every
    problem of an input at once (a sign-up, a profile change, a one-time code)."""
    try:
        return normalize_mobile(raw, region)
    except InvalidInput as exc:
        errors.extend(exc.errors)
        return ""
