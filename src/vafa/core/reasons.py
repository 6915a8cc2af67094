"""Reasons are data: a row stores a reason code and its parameters; the sentence is written when it is read.

`Reason("ledger.expire", {"amount": 50, "currency": "points"})` is "۵۰ امتیاز منقضی شد" to a Persian reader and
"50 points expired" to an English one. Every code has one Persian and one English writer below, which take the
parameters and a Formatter; numbers, money and dates are formatted at read time, in the reader's language
(Persian digits and separators) and calendar (Jalali or Gregorian).

Parameter conventions (all JSON):
- `money`: the business currency code (IRT, USD …) that money amounts and wallet/gift credit are written in;
- a dict with "fa"/"en" is a name in both languages (a rule's, a tier's), shown in the reader's language;
- a dict with "code" and "params" is a reason inside a reason (a multiplier's label);
- `text` of `note` and `legacy_text` is what a person typed, or a sentence stored before reasons were data:
  shown as it is, in every language.
This module imports nothing from the apps, so the ledger (the bottom of the house) can use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.utils import translation

from vafa.core.calendar import format_date
from vafa.core.messages import message
from vafa.core.money import format_amount, format_number

NOTE = "note"
LEGACY = "legacy_text"


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, language: str | None = None, calendar: str | None = None) -> str:
        return render(self.code, self.params, language, calendar)


def as_reason(value: Reason | str) -> Reason:
    """A Reason as it is; a string is a note a person typed (an adjustment's reason, a seed in a test)."""
    return value if isinstance(value, Reason) else Reason(NOTE, {"text": value})


def reason_fields(value: Reason | str) -> dict[str, Any]:
    """The two columns a reasoned row stores (ReasonFields)."""
    reason = as_reason(value)
    return {"reason_code": reason.code, "reason_params": dict(reason.params)}


def fraction_param(value: int | Fraction) -> int | str:
    """A Fraction as JSON: an int when whole, else "3/2" (exact; shown as 1.5)."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


CURRENCY_WORDS = {
    "fa": {"points": "امتیاز", "coins": "سکه", "wallet": "اعتبار کیف پول", "gift_credit": "اعتبار هدیه"},
    "en": {"points": "points", "coins": "coins", "wallet": "wallet credit", "gift_credit": "gift credit"},
}


class Formatter:
    """Formats one reason's parameters for one reader."""

    def __init__(self, params: Mapping[str, Any], language: str, calendar: str) -> None:
        self.p, self.lang, self.calendar = params, language, calendar
        self.fa = language == "fa"

    def num(self, value: int | str | Fraction) -> str:
        if type(value) is int:  # the common case, without a Fraction
            return format_number(value, self.lang)
        value = Fraction(value)
        if value.denominator != 1:
            text = f"{float(value):g}"  # display only; never used in arithmetic
            return text.translate(str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")) if self.fa else text
        return format_number(int(value), self.lang)

    def money(self, amount: int) -> str:
        return format_amount(int(amount), self.p.get("money") or "IRT", self.lang)

    def amount(self, amount: int, currency: str) -> str:
        """'20 points', or money in the business currency for wallet and gift credit."""
        words = CURRENCY_WORDS[self.lang].get(currency, currency)
        if currency in ("wallet", "gift_credit"):
            return f"{self.money(amount)} {words}"
        return f"{self.num(amount)} {words}"

    def date(self, value: str) -> str:
        return format_date(dt.date.fromisoformat(str(value)[:10]), self.calendar, self.lang)

    def text(self, value: Any) -> str:
        """A name in both languages, a reason inside this one, or plain text."""
        if isinstance(value, Mapping):
            if "code" in value:
                return render(value["code"], value.get("params") or {}, self.lang, self.calendar)
            return value.get(self.lang) or next((v for v in value.values() if v), "")
        return "" if value is None else str(value)

    def named(self, sentence: str) -> str:
        """A rule's name before its sentence: "Purchase points — 20 points: …"."""
        name = self.text(self.p.get("name") or "")
        return f"{name} — {sentence}" if name else sentence

    def what(self) -> str:
        return self.amount(self.p["amount"], self.p["currency"])


Writer = Callable[[Mapping[str, Any], Formatter], str]


def _earn(fa_detail: Writer, en_detail: Writer) -> tuple[Writer, Writer]:
    """An earning: "<amount>: <detail>", then each multiplier, then the cap, joined in the reader's way."""

    def write(p: Mapping[str, Any], f: Formatter, detail: Writer) -> str:
        parts = [f"{f.what()}: {detail(p, f)}"]
        parts += [f"×{f.num(m['factor'])} {f.text(m['label'])}" for m in p.get("multipliers", ())]
        if p.get("capped"):
            parts.append("تا سقف مجاز" if f.fa else "limited by the cap")
        return f.named(("، " if f.fa else "; ").join(parts))

    return (lambda p, f: write(p, f, fa_detail)), (lambda p, f: write(p, f, en_detail))


def _per_award(p: Mapping[str, Any], f: Formatter) -> str:
    return f.amount(p["award"], p["currency"])


def _visit_word(p: Mapping[str, Any], f: Formatter) -> str:
    if f.fa:
        return "خرید" if p["counts"] == "purchase" else "مراجعه"
    return "purchase" if p["counts"] == "purchase" else "visit"


def _refusal(p: Mapping[str, Any], language: str) -> str:
    """Why the server refused a purchase sent from a till: the error's code, or each field's problem."""
    if p.get("errors"):
        return ("؛ " if language == "fa" else "; ").join(
            f"{e['field']}: {message(e['message'], language)}" for e in p["errors"])
    return message(p["detail"], language)


# code → (Persian writer, English writer). Each writer reads only its own parameters.
CATALOGUE: dict[str, tuple[Writer, Writer]] = {
    NOTE: (lambda p, f: str(p.get("text", "")), lambda p, f: str(p.get("text", ""))),  # none given: empty
    LEGACY: (lambda p, f: str(p["text"]), lambda p, f: str(p["text"])),
    "localized": (lambda p, f: f.text(p["text"]), lambda p, f: f.text(p["text"])),
    # --- the engine -----------------------------------------------------------------------------------
    "earn.amount": _earn(
        lambda p, f: f"{_per_award(p, f)} به ازای هر {f.money(p['per'])} خرید (مبنا {f.money(p['basis'])})",
        lambda p, f: f"{_per_award(p, f)} per {f.money(p['per'])} spent (on {f.money(p['basis'])})"),
    "earn.quantity": _earn(
        lambda p, f: f"{_per_award(p, f)} به ازای هر {f.num(p['per'])} عدد ({f.num(p['basis'])} عدد)",
        lambda p, f: f"{_per_award(p, f)} per {f.num(p['per'])} items ({f.num(p['basis'])} items)"),
    "earn.unit": _earn(
        lambda p, f: f"{_per_award(p, f)} به ازای هر {f.num(p['per'])} {p['unit']} ({f.num(p['basis'])} {p['unit']})",
        lambda p, f: f"{_per_award(p, f)} per {f.num(p['per'])} {p['unit']} ({f.num(p['basis'])} {p['unit']})"),
    "earn.visit": _earn(lambda p, f: "برای مراجعه", lambda p, f: "for the visit"),
    "earn.event": _earn(lambda p, f: f"برای {p.get('event') or 'این فعالیت'}",
                        lambda p, f: f"for {p.get('event') or 'this activity'}"),
    "earn.cashback": (
        lambda p, f: f.named(f"{f.num(p['percent'])}٪ بازگشت وجه از {f.money(p['basis'])} خرید"),
        lambda p, f: f.named(f"{f.num(p['percent'])}% cashback on {f.money(p['basis'])}")),
    "multiplier.tier": (lambda p, f: f"سطح {f.text(p['tier'])}", lambda p, f: f"{f.text(p['tier'])} tier"),
    "multiplier.plan": (lambda p, f: f"عضویت {f.text(p['plan'])}", lambda p, f: f"{f.text(p['plan'])} membership"),
    "reward.stamp": (
        lambda p, f: (f"{f.text(p['label'])}: هر {f.num(p['every'])} {_visit_word(p, f)} یک جایزه "
                      f"({_visit_word(p, f)} {f.num(p['position'])}ام)"),
        lambda p, f: (f"{f.text(p['label'])}: a reward every {p['every']} {_visit_word(p, f)}s "
                      f"({_visit_word(p, f)} #{p['position']})")),
    "reward.sequence": (
        lambda p, f: f"{f.text(p['label'])}: جایزه {_visit_word(p, f)} {f.num(p['position'])}ام",
        lambda p, f: f"{f.text(p['label'])}: reward for {_visit_word(p, f)} #{p['position']}"),
    "reward.revoked": (lambda p, f: "جایزه لغو شد: خرید شمرده‌شده برگشت خورد",
                       lambda p, f: "reward revoked: a counted purchase was reversed"),
    # --- purchases ------------------------------------------------------------------------------------
    "purchase.paid": (lambda p, f: f"پرداخت {f.what()} برای رسید {p['receipt']}",
                      lambda p, f: f"paid {f.what()} on receipt {p['receipt']}"),
    "purchase.paid_gift_card": (lambda p, f: f"پرداخت با کارت هدیه برای رسید {p['receipt']}",
                                lambda p, f: f"paid with a gift card on receipt {p['receipt']}"),
    "return.given_back": (lambda p, f: f"بازگشت {f.what()} خرج‌شده برای رسید {p['receipt']}",
                          lambda p, f: f"{f.what()} spent on receipt {p['receipt']} given back"),
    "return.reversed": (lambda p, f: f"برگشت {f.what()} از رسید {p['receipt']} (مرجوعی)",
                        lambda p, f: f"{f.what()} earned on receipt {p['receipt']} reversed (return)"),
    "return.gift_card": (lambda p, f: f"بازگشت به کارت هدیه از رسید {p['receipt']}",
                         lambda p, f: f"return of receipt {p['receipt']}"),
    # --- the till ---------------------------------------------------------------------------------------
    "till.refused": (lambda p, f: _refusal(p, "fa"), lambda p, f: _refusal(p, "en")),
    "till.sent_again": (lambda p, f: "دوباره ارسال شد؛ این خرید پیش‌تر ثبت شده بود" if p.get("replayed")
                        else "دوباره ارسال شد و خرید ثبت شد",
                        lambda p, f: "Sent again: the purchase had already been recorded" if p.get("replayed")
                        else "Sent again: the purchase was recorded"),
    "till.refused_again": (lambda p, f: f"دوباره ارسال شد و باز پذیرفته نشد: {f.text(p['refusal'])}",
                           lambda p, f: f"Sent again and refused again: {f.text(p['refusal'])}"),
    # --- the ledger and its jobs ----------------------------------------------------------------------
    "ledger.expire": (lambda p, f: f"{f.what()} منقضی شد", lambda p, f: f"{f.what()} expired"),
    "ledger.release": (lambda p, f: f"{f.what()} پس از پایان مهلت مرجوعی قابل استفاده شد",
                       lambda p, f: f"{f.what()} became available after the return window"),
    "ledger.convert": (
        lambda p, f: f"تبدیل {f.amount(p['points'], 'points')} به {f.amount(p['value'], 'wallet')}",
        lambda p, f: f"converted {f.amount(p['points'], 'points')} into {f.amount(p['value'], 'wallet')}"),
    "gift_card.issued": (lambda p, f: "صدور کارت هدیه", lambda p, f: "issued"),
    "import.opening_balance": (lambda p, f: "موجودی اولیه منتقل‌شده از سامانه قبلی",
                               lambda p, f: "opening balance carried over from the previous system"),
    # --- clubs, gifts, referrals ----------------------------------------------------------------------
    "plan.payment": (lambda p, f: f"خرید عضویت {f.text(p['plan'])}",
                     lambda p, f: f"payment for the {f.text(p['plan'])} membership"),
    "plan.renewal": (lambda p, f: f"تمدید عضویت {f.text(p['plan'])}",
                     lambda p, f: f"renewal of the {f.text(p['plan'])} membership"),
    "cause.donation": (lambda p, f: f"اهدای {f.amount(p['points'], 'points')} به {p['cause']}",
                       lambda p, f: f"donated {f.amount(p['points'], 'points')} to {p['cause']}"),
    "gift.request": (lambda p, f: f"درخواست هدیه «{p['title']}»", lambda p, f: f'Gift request "{p["title"]}"'),
    "gift.refund": (lambda p, f: f"بازگشت بهای هدیه «{p['title']}» (درخواست رد شد)",
                    lambda p, f: f'Refund for gift "{p["title"]}" (request rejected)'),
    "referral.referee": (lambda p, f: "هدیه عضویت با معرفی دوست",
                         lambda p, f: "welcome gift for joining by referral"),
    "referral.referrer": (lambda p, f: f"پاداش معرفی {p['name']}", lambda p, f: f"reward for referring {p['name']}"),
}


def reader_language(language: str | None = None) -> str:
    """"fa" or "en": the one given, else Django's active one (a request's, the operator's switch)."""
    if language is None:
        language = translation.get_language() or "fa"
    return "fa" if language.startswith("fa") else "en"


def render(code: str, params: Mapping[str, Any] | None, language: str | None = None,
           calendar: str | None = None) -> str:
    """The sentence for a reason, in `language` (default: the active one) and `calendar` (default: Jalali for a
    Persian reader). An unknown code (a newer version's) shows as the code itself rather than failing a page."""
    lang = reader_language(language)
    writers = CATALOGUE.get(code)
    if writers is None:
        return code
    formatter = Formatter(params or {}, lang, calendar or ("jalali" if lang == "fa" else "gregorian"))
    return writers[0 if lang == "fa" else 1](params or {}, formatter)
