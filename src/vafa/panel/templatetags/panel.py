"""The one place the panel formats numbers, money and dates: Persian digits, Toman with separators and Jalali
dates when the operator reads Persian and the business counts in Jalali; ASCII, Gregorian otherwise."""

import datetime as dt
from zoneinfo import ZoneInfo

from django import template
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from vafa.core.actor import SYSTEM
from vafa.core.calendar import format_date
from vafa.core.digits import to_persian_digits
from vafa.core.money import format_amount, format_number
from vafa.panel.labels import label
from vafa.panel.nav import entries_for
from vafa.panel.selectors import tier_names

register = template.Library()


def _language() -> str:
    return "fa" if (translation.get_language() or "fa").startswith("fa") else "en"


@register.filter
def reason(row, business=None) -> str:
    """A row's stored reason (vafa.core.reasons) worded for the reader: their language, the business's calendar."""
    return row.reason_in(_language(), getattr(business, "calendar", None))


@register.filter
def num(value) -> str:
    """1234567 → ۱٬۲۳۴٬۵۶۷ in Persian."""
    if value is None or value == "":
        return "—"
    return format_number(int(value), _language())


@register.filter
def money(value, currency: str = "IRT") -> str:
    if value is None:
        return "—"
    return format_amount(int(value), currency or "IRT", _language())


@register.filter
def digits(value) -> str:
    """Any text (a mobile, a card number, a code) with Persian digits on a Persian page."""
    text = "" if value is None else str(value)
    return to_persian_digits(text) if _language() == "fa" else text


@register.filter
def phone(value) -> str:
    """An Iranian mobile as people write it (۰۹۱۲…); another country's in international form, kept left to right."""
    text = "" if value is None else str(value)
    if text.startswith("+98"):
        return digits("0" + text[3:])
    return f"\u2066{digits(text)}\u2069"  # LEFT-TO-RIGHT ISOLATE … POP: the + stays in front in RTL


@register.filter
def actor(value) -> str:
    """Who did it: an operator's or key's stored name, or the system's, in the reader's language."""
    return _("system") if value == SYSTEM.label else value


@register.filter
def ltr(value) -> str:
    """A code read left to right (a receipt number, a card number) isolated so a Persian line keeps its order.
    Only a plain number takes Persian digits: a code with letters is shown as it is typed at a till."""
    text = "" if value is None else str(value)
    return f"\u2066{digits(text) if text.isdigit() else text}\u2069"


@register.filter
def decimal(value, places: int = 2) -> str:
    if value is None:
        return "—"
    text = f"{float(value):.{int(places)}f}"
    return to_persian_digits(text.replace(".", "٫")) if _language() == "fa" else text


@register.filter
def signed(value, negate: bool = False) -> str:
    """+250 / −250, isolated left to right so the sign stays in front on a Persian page."""
    number = -int(value) if negate else int(value)
    return f"\u2066{'+' if number >= 0 else '−'}{num(abs(number))}\u2069"


@register.filter
def subtract(value, other) -> int:
    """value − other, for a change column (then `signed`)."""
    return int(value or 0) - int(other or 0)


@register.simple_tag(takes_context=True)
def tier_name(context, code) -> str:
    request = context["request"]
    names = getattr(request, "_tier_names", None)
    if names is None:
        names = request._tier_names = tier_names(request.business, _language())
    return names.get(code, code) if code else "—"


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    text = f"{float(value):.1f}٪" if _language() == "fa" else f"{float(value):.1f}%"
    return to_persian_digits(text.replace(".", "٫")) if _language() == "fa" else text


@register.filter
def jdate(value, business=None) -> str:
    """A date or a moment as the business's calendar date, in its time zone."""
    if not value:
        return "—"
    calendar = getattr(business, "calendar", "jalali")
    if isinstance(value, dt.datetime):
        value = value.astimezone(ZoneInfo(getattr(business, "timezone", "Asia/Tehran"))).date()
    return format_date(value, calendar, _language())


@register.filter
def jdatetime(value, business=None) -> str:
    """A moment as date and hh:mm in the business's time zone."""
    if not value:
        return "—"
    local = value.astimezone(ZoneInfo(getattr(business, "timezone", "Asia/Tehran")))
    return f"{jdate(local, business)} {digits(local.strftime('%H:%M'))}"


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters changed (a sort, a page): how links keep a table's state."""
    params = context["request"].GET.copy()
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = value
    if "page" not in changes:
        params.pop("page", None)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.inclusion_tag("panel/partials/nav.html", takes_context=True)
def panel_nav(context):
    request = context["request"]
    entries = [(entry, reverse(entry.url_name)) for entry in entries_for(request.principal)]
    # The entry whose address is the longest prefix of this page is the current one.
    matching = [href for _entry, href in entries if request.path == href or (href != reverse("panel:dashboard")
                                                                          and request.path.startswith(href))]
    current = max(matching, key=len, default=None)
    links = [(entry, href, href == current) for entry, href in entries]
    return {"links": links}


@register.filter
def get(mapping, key):
    return mapping.get(key, "") if mapping else ""


@register.filter(name="label")
def label_filter(value, kind: str) -> str:
    return label(kind, value)


@register.simple_tag(takes_context=True)
def cell(context, value, kind: str) -> str:
    """A table cell formatted by its column's kind (autoescaped by the template, as every value is)."""
    business = getattr(context["request"], "business", None)
    if kind == "num":
        return num(value)
    if kind == "money":
        return money(value, getattr(business, "currency", "IRT"))
    if kind == "digits":
        return digits(value)
    if kind == "ltr":
        return ltr(value)
    if kind == "phone":
        return phone(value)
    if kind == "tier":
        return tier_name(context, value)
    if kind == "date":
        return jdate(value, business)
    if kind == "datetime":
        return jdatetime(value, business)
    if kind.startswith("label:"):
        return label_filter(value, kind.split(":", 1)[1])
    return "" if value is None else str(value)
