"""Reading back the sentences stored before reasons were data (the data migrations 'reason_codes').

parse("۵۰ امتیاز منقضی شد") is Reason("ledger.expire", {"amount": 50, "currency": "points"}); a sentence of no
known shape is kept whole as Reason("legacy_text", {"text": …}), shown as it is in every language. Both
separators are read (some stored Persian sentences had Latin ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vafa.core.digits import to_ascii_digits
from vafa.core.money import CURRENCIES
from vafa.core.reasons import CURRENCY_WORDS, LEGACY, NOTE, Reason, render

_NUMBER = r"[\d۰-۹٬,]+(?:[٫.][\d۰-۹]+)?"
_NAMES = {c.name_fa: c for c in CURRENCIES.values()} | {c.name_en: c for c in CURRENCIES.values()}


def _number(text: str, minor_unit: int = 0) -> int:
    plain = to_ascii_digits(text).replace("٬", "").replace(",", "").replace("٫", ".")
    whole, _, minor = plain.partition(".")
    return int(whole) * 10**minor_unit + (int(minor.ljust(minor_unit, "0")[:minor_unit]) if minor_unit else 0)


def parse_amount(text: str) -> dict | None:
    """'50 امتیاز' → {"amount": 50, "currency": "points"}; '۱۰٬۰۰۰ تومان اعتبار کیف پول' adds "money": "IRT"."""
    text = text.strip()
    for words in CURRENCY_WORDS.values():
        for currency, word in words.items():
            if currency in ("points", "coins"):
                match = re.fullmatch(rf"({_NUMBER}) {re.escape(word)}", text)
                if match:
                    return {"amount": _number(match[1]), "currency": currency}
                continue
            match = re.fullmatch(rf"({_NUMBER}) (\S+) {re.escape(word)}", text)
            if match and match[2] in _NAMES:
                money = _NAMES[match[2]]
                return {"amount": _number(match[1], money.minor_unit), "currency": currency, "money": money.code}
    return None


def _with_amount(code: str, *names: str) -> Callable[[re.Match], Reason | None]:
    """The first group is an amount ('50 points'); the named groups after it are copied as they are."""

    def build(match: re.Match) -> Reason | None:
        what = parse_amount(match["what"])
        return Reason(code, what | {n: match[n] for n in names}) if what else None

    return build


def _convert(match: re.Match) -> Reason | None:
    points, value = parse_amount(match["points"]), parse_amount(match["value"])
    if not points or not value or points["currency"] != "points" or value["currency"] != "wallet":
        return None
    return Reason("ledger.convert", {"points": points["amount"], "value": value["amount"], "money": value["money"]})


def _donation(match: re.Match) -> Reason | None:
    points = parse_amount(match["points"])
    if not points or points["currency"] != "points":
        return None
    return Reason("cause.donation", {"points": points["amount"], "cause": match["cause"]})


def _fixed(code: str, *names: str) -> Callable[[re.Match], Reason | None]:
    return lambda match: Reason(code, {n: match[n] for n in names})


def _plan(code: str) -> Callable[[re.Match], Reason | None]:
    return lambda match: Reason(code, {"plan": {"fa": match["plan"], "en": match["plan"]}})


_WHAT = r"(?P<what>.+?)"
_RECEIPT = r"(?P<receipt>\S+)"
SHAPES: list[tuple[re.Pattern, Callable[[re.Match], Reason | None]]] = [
    (re.compile(p), build) for p, build in [
        (rf"{_WHAT} منقضی شد", _with_amount("ledger.expire")),
        (rf"{_WHAT} expired", _with_amount("ledger.expire")),
        (rf"{_WHAT} پس از پایان مهلت مرجوعی قابل استفاده شد", _with_amount("ledger.release")),
        (rf"{_WHAT} became available after the return window", _with_amount("ledger.release")),
        (rf"پرداخت با کارت هدیه برای رسید {_RECEIPT}", _fixed("purchase.paid_gift_card", "receipt")),
        (rf"paid with a gift card on receipt {_RECEIPT}", _fixed("purchase.paid_gift_card", "receipt")),
        (rf"پرداخت {_WHAT} برای رسید {_RECEIPT}", _with_amount("purchase.paid", "receipt")),
        (rf"paid {_WHAT} on receipt {_RECEIPT}", _with_amount("purchase.paid", "receipt")),
        (rf"بازگشت {_WHAT} خرج‌شده برای رسید {_RECEIPT}", _with_amount("return.given_back", "receipt")),
        (rf"{_WHAT} spent on receipt {_RECEIPT} given back", _with_amount("return.given_back", "receipt")),
        (rf"برگشت {_WHAT} از رسید {_RECEIPT} \(مرجوعی\)", _with_amount("return.reversed", "receipt")),
        (rf"{_WHAT} earned on receipt {_RECEIPT} reversed \(return\)", _with_amount("return.reversed", "receipt")),
        (rf"return of receipt {_RECEIPT}", _fixed("return.gift_card", "receipt")),
        (rf"بازگشت به کارت هدیه از رسید {_RECEIPT}", _fixed("return.gift_card", "receipt")),
        (r"تبدیل (?P<points>.+?) به (?P<value>.+)", _convert),
        (r"converted (?P<points>.+?) into (?P<value>.+)", _convert),
        (r"اهدای (?P<points>.+? امتیاز) به (?P<cause>.+)", _donation),
        (r"donated (?P<points>.+? points) to (?P<cause>.+)", _donation),
        (r"درخواست هدیه «(?P<title>.*)»", _fixed("gift.request", "title")),
        (r'Gift request "(?P<title>.*)"', _fixed("gift.request", "title")),
        (r"بازگشت بهای هدیه «(?P<title>.*)» \(درخواست رد شد\)", _fixed("gift.refund", "title")),
        (r'Refund for gift "(?P<title>.*)" \(request rejected\)', _fixed("gift.refund", "title")),
        (r"خرید عضویت (?P<plan>.+)", _plan("plan.payment")),
        (r"payment for the (?P<plan>.+) membership", _plan("plan.payment")),
        (r"تمدید عضویت (?P<plan>.+)", _plan("plan.renewal")),
        (r"renewal of the (?P<plan>.+) membership", _plan("plan.renewal")),
        (r"هدیه عضویت با معرفی دوست|welcome gift for joining by referral", _fixed("referral.referee")),
        (r"پاداش معرفی (?P<name>.+)", _fixed("referral.referrer", "name")),
        (r"reward for referring (?P<name>.+)", _fixed("referral.referrer", "name")),
        (r"موجودی اولیه منتقل‌شده از سامانه قبلی|opening balance carried over from the previous system",
         _fixed("import.opening_balance")),
        (r"جایزه لغو شد: خرید شمرده‌شده برگشت خورد|reward revoked: a counted purchase was reversed",
         _fixed("reward.revoked")),
        (r"issued|صدور کارت هدیه", _fixed("gift_card.issued")),
    ]
]


def parse(text: str) -> Reason:
    """The reason a stored sentence was written from, or the sentence kept whole as legacy_text."""
    for pattern, build in SHAPES:
        match = pattern.fullmatch(text.strip())
        reason = build(match) if match else None
        if reason is not None:
            return reason
    return Reason(LEGACY, {"text": text})


def forward(apps, app_label: str, model_name: str, *, note_kinds: tuple[str, ...] = ()) -> None:
    """A data migration's step: every row's old `reason` sentence into reason_code and reason_params. Rows of
    `note_kinds` (manual adjustments) hold what a person typed: a note, never parsed."""
    model = apps.get_model(app_label, model_name)
    batch = []
    for row in model.objects.all().iterator(chunk_size=2000):
        kind = getattr(row, "kind", None)
        if not row.reason:  # none was given (a return without a reason, a claim not rejected)
            reason = Reason(NOTE, {})
        else:
            reason = Reason(NOTE, {"text": row.reason}) if kind in note_kinds else parse(row.reason)
        row.reason_code, row.reason_params = reason.code, dict(reason.params)
        batch.append(row)
        if len(batch) == 2000:
            model.objects.bulk_update(batch, ["reason_code", "reason_params"])
            batch = []
    model.objects.bulk_update(batch, ["reason_code", "reason_params"])


def backward(apps, app_label: str, model_name: str) -> None:
    """Undoing it: each reason worded again, in its business's language."""
    model = apps.get_model(app_label, model_name)
    languages = dict(apps.get_model("tenancy", "Business").objects.values_list("pk", "language"))
    batch = []
    for row in model.objects.all().iterator(chunk_size=2000):
        row.reason = render(row.reason_code, row.reason_params, languages.get(row.business_id, "fa"))
        batch.append(row)
    model.objects.bulk_update(batch, ["reason"], batch_size=2000)
