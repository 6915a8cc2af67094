"""Persian and Arabic-Indic digits in and out."""

_PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC = "٠١٢٣٤٥٦٧٨٩"
_TO_ASCII = str.maketrans(_PERSIAN + _ARABIC, "0123456789" * 2)
_TO_PERSIAN = str.maketrans("0123456789", _PERSIAN)


def to_ascii_digits(text: str) -> str:
    return text.translate(_TO_ASCII)


def to_persian_digits(text: str) -> str:
    return text.translate(_TO_PERSIAN)
