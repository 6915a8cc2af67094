"""The program document as rules an owner reads ("10 points per 100,000 Toman"), in the operator's language:
a renderer over the validated document, so what the page says is what the engine does."""

from __future__ import annotations

from fractions import Fraction

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.core.calendar import format_date
from vafa.core.money import format_amount, format_number
from vafa.panel.labels import label
from vafa.panel.selectors import tier_names
from vafa.program.document import (
    CashbackRule,
    Conditions,
    EarnRule,
    MultiplierRule,
    ProgramDocument,
    SequenceRule,
    StampRule,
)

WEEKDAYS = {"sat": gettext_lazy("Saturday"), "sun": gettext_lazy("Sunday"), "mon": gettext_lazy("Monday"),
            "tue": gettext_lazy("Tuesday"), "wed": gettext_lazy("Wednesday"), "thu": gettext_lazy("Thursday"),
            "fri": gettext_lazy("Friday")}
PERIODS = {"day": gettext_lazy("day"), "week": gettext_lazy("week"), "month": gettext_lazy("month"),
           "year": gettext_lazy("year"), "ever": gettext_lazy("lifetime")}


class Renderer:
    def __init__(self, business, language: str) -> None:
        self.business = business
        self.lang = "fa" if language.startswith("fa") else "en"
        self.tiers = tier_names(business, self.lang)

    def day(self, value) -> str:
        return format_date(value, self.business.calendar, self.lang)

    def clock(self, value) -> str:
        """"15:00": a time range is isolated left to right by the caller so a Persian line keeps its order."""
        return self.digits(value.strftime("%H:%M"))

    def digits(self, text: str) -> str:
        return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) if self.lang == "fa" else text

    def join(self, items) -> str:
        return ("، " if self.lang == "fa" else ", ").join(str(item) for item in items)

    def money(self, amount: int) -> str:
        return format_amount(amount, self.business.currency, self.lang)

    def num(self, value: int | Fraction) -> str:
        if isinstance(value, Fraction) and value.denominator != 1:
            text = f"{float(value):g}"
            return self.digits(text).replace(".", "٫") if self.lang == "fa" else text
        return format_number(int(value), self.lang)

    def text(self, value) -> str:
        if isinstance(value, dict):
            return value.get(self.lang) or next(iter(value.values()), "")
        return value or ""

    def amount(self, amount: int, currency: str) -> str:
        if currency in ("wallet", "gift_credit"):
            return f"{self.money(amount)} {label('currency', currency)}"
        return f"{self.num(amount)} {label('currency', currency)}"

    def conditions(self, when: Conditions) -> list[str]:
        parts = []
        if when.categories:
            parts.append(_("on categories: %(list)s") % {"list": self.join(when.categories)})
        if when.skus:
            parts.append(_("on items: %(list)s") % {"list": self.join(when.skus)})
        if when.branches:
            parts.append(_("at branches: %(list)s") % {"list": self.join(when.branches)})
        if when.tiers:
            parts.append(_("for tiers: %(list)s") % {"list": self.join(self.tiers.get(t, t) for t in when.tiers)})
        if when.weekdays:
            parts.append(_("on days: %(list)s") % {"list": self.join(WEEKDAYS[d] for d in when.weekdays)})
        if when.hours:
            parts.append(_("between %(hours)s") % {"hours": self.join(f"\u2066{self.clock(h.start)}–{self.clock(h.end)}\u2069" for h in when.hours)})
        if when.dates and (when.dates.start or when.dates.end):
            parts.append(_("from %(start)s to %(end)s") % {"start": self.day(when.dates.start) if when.dates.start else "…",
                                                      "end": self.day(when.dates.end) if when.dates.end else "…"})
        if when.min_amount:
            parts.append(_("from %(amount)s up") % {"amount": self.money(when.min_amount)})
        if when.first_purchase:
            parts.append(_("on the first purchase only"))
        if when.nth:
            parts.append(_("on purchase number %(list)s") % {"list": self.join(self.num(n) for n in when.nth)})
        return parts

    def rule(self, rule) -> str:
        if isinstance(rule, EarnRule):
            award = self.amount(rule.award, rule.currency)
            if rule.basis == "amount":
                main = _("%(award)s per %(per)s spent") % {"award": award, "per": self.money(rule.per)}
            elif rule.basis in ("visit", "fixed"):
                main = _("%(award)s per visit") % {"award": award} if rule.basis == "visit" else award
            else:
                main = _("%(award)s per %(per)s %(unit)s") % {"award": award, "per": self.num(rule.per),
                                                              "unit": rule.unit or _("items")}
            if rule.cap and rule.cap.per_member:
                main += " " + _("(at most %(cap)s a %(period)s)") % {"cap": self.num(rule.cap.per_member),
                                                                      "period": PERIODS[rule.cap.period]}
        elif isinstance(rule, MultiplierRule):
            main = _("%(currency)s ×%(factor)s") % {"currency": label("currency", rule.currency), "factor": self.num(rule.factor)}
        elif isinstance(rule, CashbackRule):
            main = _("%(percent)s%% back as %(currency)s") % {"percent": self.num(rule.percent),
                                                                "currency": label("currency", rule.currency)}
        elif isinstance(rule, StampRule):
            main = _("every %(n)s purchases: %(reward)s") % {"n": self.num(rule.every),
                                                             "reward": self.text(rule.reward.name) or rule.reward.code}
        elif isinstance(rule, SequenceRule):
            main = _("step by step: %(steps)s") % {"steps": " → ".join(self.text(s.name) or s.code for s in rule.steps)}
        else:
            main = str(rule.kind)
        return ("؛ " if self.lang == "fa" else "; ").join([main, *self.conditions(rule.when)])

    def rate(self, rate) -> str:
        line = _("%(points)s points are worth %(value)s") % {"points": self.num(rate.points), "value": self.money(rate.value)}
        if rate.start or rate.end:
            line += " (" + _("from %(start)s to %(end)s") % {"start": self.day(rate.start) if rate.start else "…",
                                                             "end": self.day(rate.end) if rate.end else "…"} + ")"
        return line

    def sections(self, document: ProgramDocument) -> list[tuple[str, list[str]]]:
        shown = [(_("Earning"), [f"{self.text(r.name) or r.id}: {self.rule(r)}" for r in document.rules])]
        if document.tiers:
            basis = document.tiers.basis
            lines = []
            for level in document.tiers.levels:
                threshold = self.money(level.threshold) if basis == "spend" else self.num(level.threshold)
                parts = [_("%(name)s: from %(threshold)s in %(days)s days") % {
                    "name": self.text(level.name), "threshold": threshold, "days": self.num(document.tiers.window_days)}]
                if level.multiplier != 1:
                    parts.append(_("points ×%(factor)s") % {"factor": self.num(level.multiplier)})
                if level.discount_percent:
                    parts.append(_("%(percent)s%% discount") % {"percent": self.num(level.discount_percent)})
                lines.append(self.join(parts))
            shown.append((_("Tiers"), lines))
        expiry = [_("%(currency)s expire %(days)s days after they are earned") % {
                      "currency": label("currency", c), "days": self.num(s.expiry_days)}
                  for c, s in document.settings.currencies.items() if s.expiry_days]
        if expiry:
            shown.append((_("Expiry"), expiry))
        if document.loyalty_table:
            shown.append((_("Loyalty table"), [self.rate(r) for r in document.loyalty_table.rates]))
        return shown
