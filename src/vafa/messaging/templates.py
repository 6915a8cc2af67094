"""Message texts: the default templates per kind and language, the variables they may use, rendering, and how
many SMS parts (and what cost) a text makes. Pure: data in, text out."""

from __future__ import annotations

import html
import math
import string
from dataclasses import dataclass

VARIABLES = ("first_name", "amount", "balance", "currency", "date", "tier", "code", "link", "business", "gift")

# Kinds: transactional (balance changes, codes), informational (reminders, greetings), promotional (offers).
# A purchase's events become one SMS: "greeting", then one line per event kind, then "footer".
TRANSACTIONAL_KINDS = ("points_earned", "points_spent", "credit_earned", "credit_spent", "code_used",
                       "gift_requested", "gift_requested_admin", "gift_fulfilled", "gift_shipped",
                       "tier_changed", "return", "welcome", "otp")
INFORMATIONAL_KINDS = ("expiry_reminder", "birthday", "marriage_anniversary", "membership_anniversary", "holiday")
FRAME_KINDS = ("greeting", "footer", "opt_out_line")
KINDS = TRANSACTIONAL_KINDS + INFORMATIONAL_KINDS + FRAME_KINDS + ("promotion",)

DEFAULTS: dict[str, dict[str, str]] = {
    "greeting": {"fa": "{first_name} عزیز،", "en": "Dear {first_name},"},
    "footer": {"fa": "موجودی شما: {balance}\nنزدیک‌ترین انقضا: {date}\n{link}\n{business}",
               "en": "Your balance: {balance}\nNext expiry: {date}\n{link}\n{business}"},
    "opt_out_line": {"fa": "لغو ۱۱", "en": "Reply STOP to opt out"},
    "points_earned": {"fa": "{amount} از خرید امروزتان به حسابتان اضافه شد.",
                      "en": "{amount} from today's purchase were added to your account."},
    "points_spent": {"fa": "{amount} از حسابتان در این خرید استفاده شد.",
                     "en": "{amount} were used on this purchase."},
    "credit_earned": {"fa": "{amount} به حسابتان اضافه شد.", "en": "{amount} was added to your account."},
    "credit_spent": {"fa": "{amount} از حسابتان در این خرید استفاده شد.", "en": "{amount} was used on this purchase."},
    "code_used": {"fa": "کد تخفیف {code} روی خریدتان اعمال شد.", "en": "Discount code {code} was applied."},
    "return": {"fa": "مرجوعی خریدتان ثبت شد و حسابتان اصلاح شد.",
               "en": "Your return was recorded and your balance corrected."},
    "tier_changed": {"fa": "تبریک! سطح عضویت شما اکنون «{tier}» است.",
                     "en": "Congratulations! Your membership tier is now {tier}."},
    "gift_requested": {"fa": "درخواست هدیه «{code}» شما ثبت شد؛ به‌زودی با شما هماهنگ می‌کنیم.",
                       "en": "Your request for the gift {code} is recorded; we will be in touch."},
    "gift_requested_admin": {"fa": "درخواست هدیه «{code}» از {first_name} ثبت شد.",
                             "en": "{first_name} requested the gift {code}."},
    "gift_fulfilled": {"fa": "هدیه «{code}» شما آماده شد.", "en": "Your gift {code} is ready."},
    "gift_shipped": {"fa": "هدیه «{code}» شما ارسال شد.", "en": "Your gift {code} is on its way."},
    "welcome": {"fa": "به باشگاه مشتریان {business} خوش آمدید! دوستانتان را با این لینک دعوت کنید: {link}",
                "en": "Welcome to the {business} customer club! Invite your friends with this link: {link}"},
    "otp": {"fa": "کد تأیید شما: {code}\n{business}", "en": "Your verification code: {code}\n{business}"},
    "expiry_reminder": {"fa": "{first_name} عزیز، {amount} از اعتبار شما در {date} منقضی می‌شود. "
                              "تا آن روز از آن استفاده کنید.\n{link}\n{business}",
                        "en": "Dear {first_name}, {amount} of your balance expires on {date}. "
                              "Use it before then.\n{link}\n{business}"},
    # {gift}: what the occasion grants (credit, points or a gift code); its line is left out when there is none
    "birthday": {"fa": "{first_name} عزیز، تولدتان مبارک!\nهدیه تولد شما: {gift}\n{business}",
                 "en": "Happy birthday, {first_name}!\nYour birthday gift: {gift}\n{business}"},
    "marriage_anniversary": {"fa": "{first_name} عزیز، سالگرد ازدواجتان مبارک!\nهدیه شما: {gift}\n{business}",
                             "en": "Happy anniversary, {first_name}!\nYour gift: {gift}\n{business}"},
    "membership_anniversary": {"fa": "{first_name} عزیز، یک سال دیگر با ما بودید؛ سپاسگزاریم!\nهدیه شما: {gift}"
                                     "\n{business}",
                               "en": "Another year with us, {first_name}: thank you!\nYour gift: {gift}\n{business}"},
    "holiday": {"fa": "{first_name} عزیز، {code} مبارک!\nهدیه شما: {gift}\n{business}",
                "en": "Happy {code}, {first_name}!\nYour gift: {gift}\n{business}"},
    "promotion": {"fa": "{first_name} عزیز، {business}", "en": "Dear {first_name}, {business}"},
}
LINE_KINDS = ("points_earned", "points_spent", "credit_earned", "credit_spent", "code_used", "return",
              "tier_changed")  # the kinds that are lines of one purchase's message


def unknown_variables(text: str) -> list[str]:
    """The names in {…} that are not variables (and "{" left open), for a 422 at save time."""
    unknown: list[str] = []
    try:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (name not in VARIABLES or spec or conversion):
                unknown.append(name or "{}")
    except ValueError:
        return ["{"]
    return unknown


def variables_in(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def render(text: str, values: dict[str, str]) -> str:
    """Fill the variables; a line whose variables are all empty (no expiry, no link) is left out."""
    lines = []
    for line in text.split("\n"):
        names = [name for _, name, _, _ in string.Formatter().parse(line) if name]
        if names and all(not values.get(name) for name in names):
            continue
        lines.append(line.format_map({name: values.get(name, "") for name in VARIABLES}))
    return "\n".join(lines).strip()


def render_html(text: str, language: str) -> str:
    """An email's HTML part: the text escaped, right to left for Persian."""
    direction = "rtl" if language == "fa" else "ltr"
    body = "<br>\n".join(html.escape(line) for line in text.split("\n"))
    return (f'<!doctype html><html lang="{language}" dir="{direction}"><head><meta charset="utf-8"></head>'
            f'<body dir="{direction}" style="font-family: Vazirmatn, Tahoma, sans-serif">{body}</body></html>')


# --- SMS parts --------------------------------------------------------------------------------------------------

GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


@dataclass(frozen=True)
class Size:
    encoding: str  # "gsm7" or "ucs2"
    characters: int  # in the encoding's units (septets, or UTF-16 code units)
    parts: int


def measure(text: str) -> Size:
    """GSM-7 fits 160 in one part and 153 per part when split; anything else (Persian) is UCS-2: 70 and 67."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, per_part, encoding = 160, 153, "gsm7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, per_part, encoding = 70, 67, "ucs2"
    if units == 0:
        return Size(encoding, 0, 0)
    return Size(encoding, units, 1 if units <= single else math.ceil(units / per_part))
