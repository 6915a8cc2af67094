"""vafa.core.reasons: every code worded in Persian and English from its parameters, at read time."""

import re

import pytest

from vafa.core.legacy_reasons import parse
from vafa.core.reasons import CATALOGUE, Formatter, Reason, as_reason, render

BOTH = {"fa": "تخفیف ویژه", "en": "Special discount"}
GOLD = {"fa": "طلایی", "en": "Gold"}

# One example of every code, with every parameter its writers read.
SAMPLES: dict[str, dict] = {
    "note": {"text": "جبران تأخیر"},
    "legacy_text": {"text": "an old sentence"},
    "localized": {"text": {"fa": "هدیه تولد", "en": "Birthday gift"}},
    "earn.amount": {"name": {"fa": "امتیاز خرید", "en": "Purchase points"}, "amount": 2_000, "currency": "points",
                    "award": 10, "per": 100_000, "basis": 20_000_000, "money": "IRT",
                    "multipliers": [{"factor": "3/2", "label": BOTH},
                                    {"factor": 2, "label": {"code": "multiplier.tier", "params": {"tier": GOLD}}}],
                    "capped": True},
    "earn.quantity": {"amount": 30, "currency": "coins", "award": 3, "per": 2, "basis": 20, "money": "IRT"},
    "earn.unit": {"amount": 300, "currency": "points", "award": 100, "per": 1_000, "basis": 3_000, "unit": "km",
                  "money": "IRT"},
    "earn.visit": {"amount": 50, "currency": "points", "award": 50, "money": "IRT"},
    "earn.event": {"amount": 50, "currency": "points", "award": 50, "event": "survey_completed", "money": "IRT"},
    "earn.cashback": {"name": {}, "percent": "5/2", "basis": 250_000, "money": "IRT"},
    "multiplier.tier": {"tier": GOLD},
    "multiplier.plan": {"plan": {"fa": "ویژه", "en": "VIP"}},
    "reward.stamp": {"label": {"fa": "غذای رایگان", "en": "Free meal"}, "counts": "purchase", "every": 10,
                     "position": 10},
    "reward.sequence": {"label": {"fa": "قهوه", "en": "Coffee"}, "counts": "visit", "position": 2},
    "reward.revoked": {},
    "purchase.paid": {"amount": 1_500, "currency": "points", "money": "IRT", "receipt": "R-1"},
    "purchase.paid_gift_card": {"receipt": "R-1"},
    "return.given_back": {"amount": 20_000, "currency": "wallet", "money": "IRT", "receipt": "R-1"},
    "return.reversed": {"amount": 20, "currency": "points", "money": "IRT", "receipt": "R-1"},
    "return.gift_card": {"receipt": "R-1"},
    "ledger.expire": {"amount": 1_234_567, "currency": "points", "money": "IRT"},
    "ledger.release": {"amount": 10_50, "currency": "gift_credit", "money": "USD"},
    "ledger.convert": {"points": 300, "value": 30_000, "money": "IRT"},
    "gift_card.issued": {},
    "import.opening_balance": {},
    "plan.payment": {"plan": {"fa": "ویژه", "en": "VIP"}},
    "plan.renewal": {"plan": {"fa": "ویژه", "en": "VIP"}},
    "cause.donation": {"points": 1_000, "cause": "کاشت درخت"},
    "gift.request": {"title": "ماگ سرامیکی"},
    "gift.refund": {"title": "Mug"},
    "referral.referee": {},
    "referral.referrer": {"name": "Sara"},
    "till.refused": {"detail": "invalid_input", "errors": [{"field": "total", "message": "required"}]},
    "till.sent_again": {"replayed": True},
    "till.refused_again": {"refusal": {"code": "till.refused", "params": {"detail": "member_blocked"}}},
}


def test_every_code_has_an_example():
    assert set(SAMPLES) == set(CATALOGUE)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
@pytest.mark.parametrize("language", ["fa", "en"])
def test_every_code_renders_in_both_languages(code, language):
    text = render(code, SAMPLES[code], language)
    assert text.strip()
    assert "{" not in text and "None" not in text


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_persian_numbers_have_persian_digits_and_separators(code):
    text = render(code, SAMPLES[code], "fa")
    # Latin digits may appear only inside what is not a number of ours: a receipt, a typed or legacy text
    shown = text.replace("R-1", "").replace("an old sentence", "")
    assert not re.search(r"\d,\d", shown), text
    assert not re.search(r"[0-9]", shown), text


def test_the_same_reason_in_two_languages():
    reason = Reason("ledger.expire", SAMPLES["ledger.expire"])
    assert reason.render("fa") == "۱٬۲۳۴٬۵۶۷ امتیاز منقضی شد"
    assert reason.render("en") == "1,234,567 points expired"


def test_money_in_the_business_currency():
    assert render("ledger.release", SAMPLES["ledger.release"], "en") == (
        "10.50 USD gift credit became available after the return window")
    assert render("ledger.convert", SAMPLES["ledger.convert"], "fa") == (
        "تبدیل ۳۰۰ امتیاز به ۳۰٬۰۰۰ تومان اعتبار کیف پول")


def test_an_earning_with_multipliers_and_a_cap():
    assert render("earn.amount", SAMPLES["earn.amount"], "en") == (
        "Purchase points — 2,000 points: 10 points per 100,000 Toman spent (on 20,000,000 Toman); "
        "×1.5 Special discount; ×2 Gold tier; limited by the cap")
    assert render("earn.amount", SAMPLES["earn.amount"], "fa") == (
        "امتیاز خرید — ۲٬۰۰۰ امتیاز: ۱۰ امتیاز به ازای هر ۱۰۰٬۰۰۰ تومان خرید (مبنا ۲۰٬۰۰۰٬۰۰۰ تومان)، "
        "×۱٫۵ تخفیف ویژه، ×۲ سطح طلایی، تا سقف مجاز")


def test_dates_in_the_readers_calendar():
    assert Formatter({}, "fa", "jalali").date("2025-03-21") == "۱۴۰۴/۰۱/۰۱"
    assert Formatter({}, "en", "jalali").date("2025-03-21") == "1404/01/01"
    assert Formatter({}, "en", "gregorian").date("2025-03-21T10:00:00+00:00") == "2025-03-21"


def test_a_typed_reason_is_a_note_shown_as_typed():
    assert as_reason("جبران تأخیر") == Reason("note", {"text": "جبران تأخیر"})
    assert render("note", {"text": "جبران تأخیر"}, "en") == "جبران تأخیر"


def test_an_unknown_code_shows_itself():
    assert render("from.a.newer.version", {}, "fa") == "from.a.newer.version"


# --- reading back the sentences stored before -----------------------------------------------------------------

PARSED = sorted(set(CATALOGUE) - {"note", "legacy_text", "localized", "multiplier.tier", "multiplier.plan",
                                  "earn.amount", "earn.quantity", "earn.unit", "earn.visit", "earn.event",
                                  "earn.cashback", "reward.stamp", "reward.sequence", "till.refused",
                                  "till.sent_again", "till.refused_again"})


@pytest.mark.parametrize("code", PARSED)
@pytest.mark.parametrize("language", ["fa", "en"])
def test_a_stored_sentence_reads_back_as_its_code(code, language):
    sentence = render(code, SAMPLES[code], language)
    parsed = parse(sentence)
    assert parsed.code == code
    assert parsed.render(language) == sentence
    if not code.startswith("plan."):  # an old sentence held the plan's name in one language only
        other = "en" if language == "fa" else "fa"
        assert parsed.render(other) == render(code, SAMPLES[code], other)


def test_latin_separators_inside_persian_are_read_and_worded_right():
    parsed = parse("1,500 امتیاز منقضی شد")
    assert parsed == Reason("ledger.expire", {"amount": 1_500, "currency": "points"})
    assert parsed.render("fa") == "۱٬۵۰۰ امتیاز منقضی شد"


def test_a_sentence_of_no_known_shape_is_kept_whole():
    assert parse("50 points: for the visit") == Reason("legacy_text", {"text": "50 points: for the visit"})
