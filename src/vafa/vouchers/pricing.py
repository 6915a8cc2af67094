"""Discount codes priced on a basket: pure Python, integers only (amounts in minor units), data in, effects out.

Codes apply in the order entered, each on the basket as the previous ones left it, then the member's standing
promotions (tier and paid-plan discounts). Of several order-wide percentages, codes and standing promotions
alike, only the one that gives the largest total discount applies; the others answer `not_combined`.
Each discount is spread over the lines it came from with `apportion`, so every line's remaining amount is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

from vafa.core.arith import apportion, round_fraction
from vafa.core.money import format_number
from vafa.core.reasons import Reason

KINDS = ("percent", "fixed", "free_shipping", "free_item", "buy_n_get_m")

# Outcomes of applying one code. "applied" gives a discount; "not_combined" and "nothing_to_discount" are not
# errors (the code is simply not used); the others mean the basket does not meet the code's conditions.
APPLIED = "applied"
NOT_COMBINED = "not_combined"
NOTHING_TO_DISCOUNT = "nothing_to_discount"
NO_MATCHING_ITEMS = "no_matching_items"
BELOW_MIN_AMOUNT = "below_min_amount"
BELOW_MIN_QUANTITY = "below_min_quantity"
HARMLESS = (APPLIED, NOT_COMBINED, NOTHING_TO_DISCOUNT)

TEXTS: dict[str, tuple[str, str]] = {
    NOT_COMBINED: ("با تخفیف درصدی دیگری روی کل سفارش که بهتر است جمع نمی‌شود",
                   "not combined: a better order-wide percentage applies"),
    NOTHING_TO_DISCOUNT: ("چیزی برای تخفیف باقی نمانده است", "nothing is left to discount"),
    NO_MATCHING_ITEMS: ("کالای مشمول این کد در سبد نیست", "no item in the basket qualifies for this code"),
    BELOW_MIN_AMOUNT: ("مبلغ خرید کمتر از حداقل {min_amount} است", "the amount is below the minimum of {min_amount}"),
    BELOW_MIN_QUANTITY: ("تعداد کالاها کمتر از حداقل {min_quantity} است",
                         "fewer items than the minimum of {min_quantity}"),
}


@dataclass(frozen=True)
class BasketLine:
    sku: str
    category: str
    quantity: int
    amount: int  # the line's amount (quantity × unit price, less earlier discounts)


@dataclass(frozen=True)
class Basket:
    lines: tuple[BasketLine, ...]
    shipping: int = 0

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True)
class VoucherTerms:
    """What one code gives and what the basket must hold for it. Empty categories and skus: every item."""

    code: str
    kind: str
    percent: Fraction = Fraction(0)  # percent: 10 → 10 %
    max_discount: int | None = None  # percent: the most it gives
    amount: int = 0  # fixed
    categories: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()
    min_amount: int = 0  # inclusive, on the qualifying items as the basket stands
    min_quantity: int = 0  # inclusive, units of qualifying items
    free_sku: str = ""  # free item: this SKU (empty: the cheapest qualifying item)
    free_quantity: int = 1  # free item: how many units at most
    buy_n: int = 0
    get_m: int = 0
    order_wide: bool = False  # percent on the whole order; only the best of these applies
    label: str = ""  # a standing promotion (tier, paid plan) is not a code: it is named by this label

    @classmethod
    def standing(cls, rule_id: str, percent: Fraction, label: str) -> VoucherTerms:
        """A member's standing order-wide percentage (engine.Promotion), to compete with the codes."""
        return cls(code=rule_id, kind="percent", percent=percent, order_wide=True, label=label)

    def matches(self, line: BasketLine) -> bool:
        if self.kind == "percent" and self.order_wide:
            return True
        if self.kind == "free_item" and self.free_sku:
            return line.sku == self.free_sku
        if self.categories or self.skus:
            return line.category in self.categories or line.sku in self.skus
        return True


@dataclass(frozen=True)
class Applied:
    code: str
    status: str  # APPLIED, NOT_COMBINED, NOTHING_TO_DISCOUNT or a condition not met
    discount: int  # lines + shipping
    allocation: tuple[int, ...]  # per basket line, in the basket's order
    shipping: int  # the part of the discount taken off shipping
    reason: str  # human-readable, in the language asked for
    params: dict = field(default_factory=dict)  # a condition not met: its numbers (min_quantity …)
    texts: dict = field(default_factory=dict)  # the reason in both languages, stored as the discount's reason

    @property
    def why(self) -> Reason:
        return Reason("localized", {"text": self.texts})

    @property
    def applied(self) -> bool:
        return self.status == APPLIED


@dataclass
class _Outcome:
    status: str
    allocation: list[int] = field(default_factory=list)
    shipping: int = 0
    params: dict = field(default_factory=dict)


def _units_value(amount: int, quantity: int, units: int) -> int:
    """What `units` of a line's `quantity` are worth out of its `amount` (all of them: exactly the amount)."""
    if quantity <= 0:
        return 0
    return round_fraction(Fraction(amount * units, quantity), "floor")


def _free_units(basket: Basket, free: list[tuple[int, int]]) -> list[int]:
    """Allocation when some units are free: free[(line index, units)]."""
    allocation = [0] * len(basket.lines)
    for index, units in free:
        line = basket.lines[index]
        allocation[index] = _units_value(line.amount, line.quantity, units)
    return allocation


def _cheapest_first(basket: Basket, eligible: list[int]) -> list[int]:
    # unit value a/q compared exactly as fractions; ties to the earlier line
    return sorted(eligible, key=lambda i: (Fraction(basket.lines[i].amount, basket.lines[i].quantity), i))


def _price(basket: Basket, terms: VoucherTerms) -> _Outcome:
    n = len(basket.lines)
    eligible = [i for i, line in enumerate(basket.lines) if line.quantity > 0 and terms.matches(line)]
    if terms.kind != "free_shipping" and not eligible:
        return _Outcome(NO_MATCHING_ITEMS)
    eligible_amount = sum(basket.lines[i].amount for i in eligible)
    eligible_units = sum(basket.lines[i].quantity for i in eligible)
    if eligible_amount < terms.min_amount:
        return _Outcome(BELOW_MIN_AMOUNT, params={"min_amount": terms.min_amount})
    if eligible_units < terms.min_quantity:
        return _Outcome(BELOW_MIN_QUANTITY, params={"min_quantity": terms.min_quantity})

    if terms.kind == "free_shipping":
        if basket.shipping <= 0:
            return _Outcome(NOTHING_TO_DISCOUNT)
        return _Outcome(APPLIED, [0] * n, basket.shipping)

    if terms.kind in ("percent", "fixed"):
        if terms.kind == "percent":
            discount = round_fraction(terms.percent * eligible_amount / 100, "floor")
            if terms.max_discount is not None:
                discount = min(discount, terms.max_discount)
        else:
            discount = min(terms.amount, eligible_amount)
        if discount <= 0:
            return _Outcome(NOTHING_TO_DISCOUNT)
        parts = apportion(discount, [basket.lines[i].amount for i in eligible])
        allocation = [0] * n
        for i, part in zip(eligible, parts, strict=True):
            allocation[i] = part
        return _Outcome(APPLIED, allocation)

    free: list[tuple[int, int]] = []
    if terms.kind == "free_item":
        left = max(terms.free_quantity, 0)
        for i in _cheapest_first(basket, eligible):
            if left <= 0:
                break
            take = min(left, basket.lines[i].quantity)
            free.append((i, take))
            left -= take
    elif terms.kind == "buy_n_get_m":
        group = terms.buy_n + terms.get_m
        if terms.buy_n <= 0 or terms.get_m <= 0 or eligible_units < group:
            return _Outcome(BELOW_MIN_QUANTITY, params={"min_quantity": max(group, terms.min_quantity)})
        # every unit, dearest first; in each group of N+M units the M cheapest are free
        units = [i for i in reversed(_cheapest_first(basket, eligible)) for _ in range(basket.lines[i].quantity)]
        counts: dict[int, int] = {}
        for start in range(0, len(units) - group + 1, group):
            for i in units[start + terms.buy_n:start + group]:
                counts[i] = counts.get(i, 0) + 1
        free = sorted(counts.items())
    else:
        raise ValueError(f"unknown voucher kind {terms.kind!r}")
    allocation = _free_units(basket, free)
    if sum(allocation) <= 0:
        return _Outcome(NOTHING_TO_DISCOUNT)
    return _Outcome(APPLIED, allocation)


def _reduce(basket: Basket, outcome: _Outcome) -> Basket:
    lines = tuple(replace(line, amount=line.amount - part) for line, part in zip(basket.lines, outcome.allocation,
                                                                                  strict=True))
    return Basket(lines, basket.shipping - outcome.shipping)


_PERSIAN_DECIMAL = str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫")


def _digits(value: Fraction) -> str:
    """12 → "12", 25/2 → "12.5" (exact; a percent with another denominator shows as a fraction)."""
    if value.denominator == 1:
        return str(value.numerator)
    for places in range(1, 7):
        scaled = value * 10**places
        if scaled.denominator == 1:
            text = str(abs(scaled.numerator)).rjust(places + 1, "0")
            return ("-" if value < 0 else "") + text[:-places] + "." + text[-places:]
    return str(value)


def describe(terms: VoucherTerms, outcome_status: str, discount: int, language: str, params: dict | None = None) -> str:
    """The reason for one outcome, in Persian ("fa": Persian digits and separators) or English (plain numbers)."""
    fa = language == "fa"
    percent = _digits(terms.percent).translate(_PERSIAN_DECIMAL) if fa else _digits(terms.percent)

    def num(value: int) -> str:
        return format_number(value, "fa") if fa else str(value)

    if outcome_status != APPLIED:
        pair = TEXTS.get(outcome_status, (outcome_status, outcome_status))
        shown = {key: num(value) if isinstance(value, int) else value for key, value in (params or {}).items()}
        return (pair[0] if fa else pair[1]).format(**shown)
    kind, code, amount = terms.kind, terms.code, num(discount)
    if terms.label:
        return f"{terms.label}: {amount}"
    if kind == "percent":
        text = f"{percent}٪ تخفیف کد {code}: {amount}" if fa else f"{percent}% off with code {code}: {amount}"
        if terms.max_discount is not None and discount == terms.max_discount:
            text += f" (سقف {amount})" if fa else f" (capped at {amount})"
        return text
    if kind == "fixed":
        return f"تخفیف {amount} با کد {code}" if fa else f"{amount} off with code {code}"
    if kind == "free_shipping":
        return f"ارسال رایگان با کد {code}: {amount}" if fa else f"free shipping with code {code}: {amount}"
    if kind == "free_item":
        return f"کالای رایگان با کد {code}: {amount}" if fa else f"free item with code {code}: {amount}"
    return (f"{num(terms.buy_n)} بخر {num(terms.get_m)} رایگان با کد {code}: {amount}" if fa
            else f"buy {terms.buy_n} get {terms.get_m} free with code {code}: {amount}")


def _run(basket: Basket, terms_list: list[VoucherTerms], skip: set[int], language: str) -> tuple[list[Applied], Basket]:
    results: list[Applied] = []
    for position, terms in enumerate(terms_list):
        if position in skip:
            results.append(Applied(terms.code, NOT_COMBINED, 0, (0,) * len(basket.lines), 0,
                                   describe(terms, NOT_COMBINED, 0, language)))
            continue
        outcome = _price(basket, terms)
        if outcome.status != APPLIED:
            results.append(Applied(terms.code, outcome.status, 0, (0,) * len(basket.lines), 0,
                                   describe(terms, outcome.status, 0, language, outcome.params), outcome.params))
            continue
        discount = sum(outcome.allocation) + outcome.shipping
        texts = {lang: describe(terms, APPLIED, discount, lang) for lang in ("fa", "en")}
        results.append(Applied(terms.code, APPLIED, discount, tuple(outcome.allocation), outcome.shipping,
                               texts["fa" if language == "fa" else "en"], texts=texts))
        basket = _reduce(basket, outcome)
    return results, basket


def apply_codes(basket: Basket, terms_list: list[VoucherTerms], language: str = "fa") -> list[Applied]:
    """One Applied per code, in the order entered, each priced on the basket the earlier ones left."""
    wide = [i for i, t in enumerate(terms_list) if t.kind == "percent" and t.order_wide]
    skip: set[int] = set()
    if len(wide) > 1:
        # the best order-wide percentage: the one giving the largest total discount when it is the only one
        def total_with(keep: int) -> int:
            results, _ = _run(basket, terms_list, set(wide) - {keep}, language)
            return sum(r.discount for r in results)

        best = max(wide, key=lambda i: (total_with(i), -i))
        skip = set(wide) - {best}
    return _run(basket, terms_list, skip, language)[0]


def remaining(basket: Basket, applied: list[Applied]) -> Basket:
    """The basket after the applied discounts."""
    for result in applied:
        if result.applied:
            basket = _reduce(basket, _Outcome(APPLIED, list(result.allocation), result.shipping))
    return basket
