"""The program document: a business's loyalty program as configuration, validated by Pydantic.

The format is documented with examples in docs/program.md. Every amount is an integer in the business
currency's minor unit; factors and percentages are exact decimals ("1.5", 2, "12.5"), never floats.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails

from vafa.core.calendar import parse_date
from vafa.core.errors import InvalidInput
from vafa.core.validation import MAX_AMOUNT

# Bounds on every number, so that no document can make a later purchase fail (an award past the ledger's
# largest amount, an expiry past year 9999) and no factor can make the engine's exact arithmetic explode.
MAX_AWARD = 10**9  # per step of an earn rule, per referral
MAX_FACTOR = 100  # a multiplier rule's factor, a tier's or plan's multiplier
MAX_DAYS = 36_500  # expiry, return window, reminders, tier windows: a hundred years
MAX_COUNT = 10**6  # every Nth purchase, the Nth purchase
EXACT_DIGITS = (6, 6)  # a factor or percentage: at most this many digits before and after the point

RewardCurrency = Literal["points", "coins", "wallet", "gift_credit"]
REWARD_CURRENCIES: tuple[RewardCurrency, ...] = ("points", "coins", "wallet", "gift_credit")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _exact(value: Any) -> Fraction:
    """A factor or percentage, read exactly from its decimal text (1.1 means 11/10, not a float's binary)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("must be a decimal number such as 2 or 1.5") from exc
    if not number.is_finite():
        raise ValueError("must be a finite decimal number such as 2 or 1.5")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number's
    if number.adjusted() >= EXACT_DIGITS[0] or -exponent > EXACT_DIGITS[1]:
        raise ValueError(f"must have at most {EXACT_DIGITS[0]} digits before the point and {EXACT_DIGITS[1]} after")
    return Fraction(number)


def _show_exact(value: Fraction) -> int | str:
    if value.denominator == 1:
        return value.numerator
    return str(Decimal(value.numerator) / Decimal(value.denominator))


def _date(value: Any) -> dt.date:
    try:
        return parse_date(value)
    except InvalidInput as exc:
        raise ValueError("not a real date (write 2025-03-21 or 1404/01/01)") from exc


def _clock(value: Any) -> dt.time:
    """A wall-clock time in the business's timezone, written "22:00". A bare YAML 22:00 arrives as the number
    1320 (sexagesimal), and an offset would compare wrongly: both are refused with a hint."""
    if isinstance(value, dt.time) and value.tzinfo is None:
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()):
        raise ValueError('write the time in quotes as "HH:MM", e.g. "22:00", without an offset')
    try:
        return dt.time.fromisoformat(value.strip().zfill(5) if len(value.strip()) == 4 else value.strip())
    except ValueError as exc:
        raise ValueError("not a real time of day") from exc


Exact = Annotated[Fraction, BeforeValidator(_exact), PlainSerializer(_show_exact)]
DocDate = Annotated[dt.date, BeforeValidator(_date)]
Clock = Annotated[dt.time, BeforeValidator(_clock)]
# A label in one language, or one per language: "Gold" or {"fa": "طلایی", "en": "Gold"}.
Localized = str | dict[str, str]


def localize(label: Localized, language: str) -> str:
    if isinstance(label, str):
        return label
    return label.get(language) or next(iter(label.values()), "")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class CurrencySettings(Strict):
    expiry_days: int | None = Field(None, ge=1, le=MAX_DAYS, description="Lots expire this many days after they are earned.")
    pending_days: int = Field(0, ge=0, le=MAX_DAYS, description="Earned amounts wait this long (the return window).")
    reminder_days: int | None = Field(None, ge=0, le=MAX_DAYS, description="Warn members this many days before a lot "
                                      "expires; unset: the business's messaging setting (7 unless changed).")


def _default_currencies() -> dict[RewardCurrency, CurrencySettings]:
    return {c: CurrencySettings() for c in REWARD_CURRENCIES}


class ClaimSettings(Strict):
    """Purchases members register themselves in the portal (F10), and the checks against abuse."""

    amount_tolerance: int = Field(0, ge=0, le=MAX_AMOUNT, description="A claim matches a reported receipt when the "
                                                                       "amounts differ by at most this much.")
    per_day: int = Field(3, ge=1, le=1000, description="A member's claims a day; more are refused.")
    max_amount: int | None = Field(None, ge=1, le=MAX_AMOUNT, description="A claim above this amount is never "
                                                                          "accepted at once: it waits for review.")
    max_age_days: int = Field(7, ge=0, le=MAX_DAYS, description="A purchase older than this many days is refused.")


class Settings(Strict):
    claims: ClaimSettings = ClaimSettings()
    earn_on_credit_payments: bool = Field(
        False, description="Whether the part paid with wallet, gift credit or points still earns."
    )
    multiplier_combination: Literal["multiply", "add", "best"] = "multiply"
    currencies: dict[RewardCurrency, CurrencySettings] = Field(default_factory=_default_currencies)
    max_backdate_days: int = Field(
        30, ge=0, le=3650, description="How many days back a till or the API may register a purchase (imports "
                                       "and WooCommerce orders are exempt)."
    )

    def currency(self, name: str) -> CurrencySettings:
        found = self.currencies.get(name)  # type: ignore[call-overload]
        return found if found is not None else CurrencySettings()  # a model built only when none is set


class HourWindow(Strict):
    start: Clock
    end: Clock  # exclusive; a window may cross midnight (22:00–02:00)

    def contains(self, moment: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class DateRange(Strict):
    start: DocDate | None = None  # inclusive
    end: DocDate | None = None  # inclusive

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.start and self.end and self.start > self.end:
            raise ValueError("start is after end")
        return self

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


class Conditions(Strict):
    """All given conditions must hold. Line conditions (categories, skus) also choose the lines a rule
    counts; the others gate the whole purchase."""

    categories: list[str] = []
    skus: list[str] = []
    branches: list[str] = []
    channels: list[str] = []
    weekdays: list[Weekday] = []
    hours: list[HourWindow] = []
    dates: DateRange | None = None
    tiers: list[str] = []
    min_amount: int | None = Field(None, ge=0, le=MAX_AMOUNT, description="Inclusive, on the amount the rule counts.")
    min_quantity: int | None = Field(None, ge=0, le=MAX_COUNT, description="Inclusive, on the quantity the rule counts.")
    nth: list[Annotated[int, Field(ge=1, le=MAX_COUNT)]] = Field([], description="Only the Nth purchase/visit (1 = first).")
    first_purchase: bool = False
    other_amount: bool = Field(True, description="Whether the purchase's unitemised part (`other_amount`: "
                                                 "delivery, service …) counts, beside its items.")

    @property
    def selects_lines(self) -> bool:
        return bool(self.categories or self.skus)


class Cap(Strict):
    per_purchase: int | None = Field(None, ge=0, le=MAX_AMOUNT)
    per_member: int | None = Field(None, ge=0, le=MAX_AMOUNT)
    period: Literal["day", "week", "month", "year", "ever"] = "month"


RewardGives = Literal["thing", "free_item", "amount_off", "percent_off", "free_shipping"]


class Reward(Strict):
    """What a stamp card or a sequence step issues: something the member holds until used, expired or revoked.
    By default a thing handed over (a free coffee); or, used on a purchase, a free item, an amount or a
    percent off, or free shipping."""

    code: str = Field(min_length=1, max_length=64)
    name: Localized = ""
    gives: RewardGives = "thing"
    sku: str = Field("", max_length=64, description="free_item: the free item's SKU")
    quantity: int = Field(1, ge=1, le=1000, description="free_item: how many units are free")
    amount: int = Field(0, ge=0, le=10**15, description="amount_off: how much, in minor units")
    percent: Exact = Fraction(0)
    max_discount: int | None = Field(None, ge=1, le=10**15, description="percent_off: the most it gives")
    branches: list[str] = Field([], description="branch codes where it may be used; empty: every branch")
    valid_days: int | None = Field(None, ge=1, le=3650, description="days it may be used after being issued")

    @model_validator(mode="after")
    def _what_it_gives(self) -> Reward:
        if self.gives == "free_item" and not self.sku:
            raise ValueError("a free_item reward names its sku")
        if self.gives == "amount_off" and self.amount <= 0:
            raise ValueError("an amount_off reward gives a positive amount")
        if self.gives == "percent_off" and not 0 < self.percent <= 100:
            raise ValueError("a percent_off reward's percent is above 0 and at most 100")
        return self


class RuleBase(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    name: Localized = ""
    when: Conditions = Conditions()
    stop: bool = Field(False, description="When this rule matches, the rules after it are not evaluated.")


class EarnRule(RuleBase):
    kind: Literal["earn"]
    on: Literal["purchase", "visit", "event"] = "purchase"
    event: str | None = None
    currency: RewardCurrency = "points"
    basis: Literal["amount", "quantity", "visit", "unit", "fixed"] = "amount"
    unit: str | None = None  # for basis "unit": km, check-up, session …
    per: int = Field(1, ge=1, le=MAX_AMOUNT)
    award: int = Field(ge=0, le=MAX_AWARD)
    rounding: Literal["floor", "half_up", "ceil"] = "floor"
    proportional: bool = Field(
        False, description="Round the final award instead of counting whole steps of `per`."
    )
    cap: Cap | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EarnRule:
        if self.on == "event" and not self.event:
            raise ValueError("an event rule names its event")
        if self.basis == "unit" and not self.unit:
            raise ValueError("basis 'unit' needs a unit name")
        if self.on != "purchase" and self.basis in ("amount", "quantity"):
            raise ValueError(f"basis '{self.basis}' only applies to purchases")
        return self


class MultiplierRule(RuleBase):
    kind: Literal["multiplier"]
    factor: Exact
    currency: RewardCurrency = "points"
    applies_to: list[str] = Field([], description="Earn rule ids; empty means every earn rule of the currency.")

    @model_validator(mode="after")
    def _positive(self) -> MultiplierRule:
        if self.factor <= 0:
            raise ValueError("factor must be positive")
        if self.factor > MAX_FACTOR:
            raise ValueError(f"factor must be at most {MAX_FACTOR}")
        return self


class CashbackRule(RuleBase):
    kind: Literal["cashback"]
    percent: Exact
    currency: Literal["wallet", "gift_credit"] = "wallet"
    rounding: Literal["floor", "half_up", "ceil"] = "floor"
    cap: Cap | None = None

    @model_validator(mode="after")
    def _range(self) -> CashbackRule:
        if not 0 < self.percent <= 100:
            raise ValueError("percent must be above 0 and at most 100")
        return self


class StampRule(RuleBase):
    kind: Literal["stamp"]
    every: int = Field(ge=1, le=MAX_COUNT)
    counts: Literal["purchase", "visit"] = "purchase"
    reward: Reward


class SequenceRule(RuleBase):
    kind: Literal["sequence"]
    counts: Literal["purchase", "visit"] = "purchase"
    steps: list[Reward] = Field(min_length=1, description="steps[0] for the 1st, steps[1] for the 2nd …")


Rule = Annotated[
    EarnRule | MultiplierRule | CashbackRule | StampRule | SequenceRule, Field(discriminator="kind")
]


class Benefits(Strict):
    """What a tier level or a paid plan gives: a points multiplier, an order-wide discount, perks to show."""

    multiplier: Exact = Fraction(1)
    discount_percent: Exact = Fraction(0)
    perks: list[Localized] = []

    @model_validator(mode="after")
    def _ranges(self) -> Benefits:
        if self.multiplier <= 0:
            raise ValueError("multiplier must be positive")
        if self.multiplier > MAX_FACTOR:
            raise ValueError(f"multiplier must be at most {MAX_FACTOR}")
        if not 0 <= self.discount_percent <= 100:
            raise ValueError("discount_percent must be between 0 and 100")
        return self


class TierLevel(Benefits):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")
    name: Localized
    threshold: int = Field(ge=0, le=MAX_AMOUNT)


class Tiers(Strict):
    basis: Literal["spend", "points", "visits"] = "spend"
    window_days: int = Field(365, ge=1, le=MAX_DAYS)
    review_every_days: int = Field(30, ge=1, le=MAX_DAYS, description="Downgrades happen only at this periodic review.")
    levels: list[TierLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ladder(self) -> Tiers:
        thresholds = [level.threshold for level in self.levels]
        if thresholds[0] != 0:
            raise ValueError("the first level's threshold must be 0")
        if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ValueError("thresholds must increase strictly")
        codes = [level.code for level in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("tier codes must be unique")
        return self

    def level(self, code: str | None) -> TierLevel | None:
        return next((level for level in self.levels if level.code == code), None)


class Rate(Strict):
    name: Localized = ""
    start: DocDate | None = None
    end: DocDate | None = None
    points: int = Field(ge=1, le=MAX_AMOUNT, description="This many points …")
    value: int = Field(ge=0, le=MAX_AMOUNT, description="… are worth this much money (minor units).")

    @property
    def dated(self) -> bool:
        return self.start is not None or self.end is not None


class Good(Strict):
    title: Localized
    points: int = Field(ge=1, le=MAX_AMOUNT)


class LoyaltyTable(Strict):
    rates: list[Rate] = Field(min_length=1)
    goods: list[Good] = []


class BirthdayGift(Strict):
    """Gift credit in the member's birth month (in the business calendar), once a year (F28, F40)."""

    amount: int = Field(ge=0, le=MAX_AWARD, description="for every member; 0 to give only to the tiers listed")
    tiers: dict[str, Annotated[int, Field(ge=0, le=MAX_AWARD)]] = Field({}, description="an amount per tier instead")
    expiry_days: int = Field(30, ge=1, le=MAX_DAYS)
    categories: list[str] = []
    reason: Localized = {"fa": "هدیه تولد", "en": "Birthday gift"}

    def amount_for(self, tier: str | None) -> int:
        return self.tiers.get(tier or "", self.amount)


class ReferralReward(Strict):
    currency: RewardCurrency = "points"
    amount: int = Field(ge=0, le=MAX_AWARD)
    expiry_days: int | None = Field(None, ge=1, le=MAX_DAYS)


class Referral(Strict):
    """Rewards for bringing a friend (F34): to the referrer and to the new member, on sign-up and/or on the new
    member's first purchase; and a commission to the operator who signs a member up (F35)."""

    on: list[Literal["signup", "first_purchase"]] = Field(["first_purchase"], min_length=1)
    referrer: ReferralReward | None = None
    referee: ReferralReward | None = None
    operator_commission: int = Field(0, ge=0, le=MAX_AMOUNT, description="money per member an operator signs up")


class ClubEntry(Strict):
    basis: Literal["spend", "purchases", "visits"] = "spend"
    threshold: int = Field(ge=1, le=MAX_AMOUNT, description="Inclusive: spend in money, or a number of purchases or visits.")


class Club(Strict):
    """An open club admits everyone at sign-up; a closed one only after the entry threshold is reached. Until
    then the customer is a candidate: purchases and visits are recorded and count, nothing is earned."""

    kind: Literal["open", "closed"] = "open"
    entry: ClubEntry | None = None

    @model_validator(mode="after")
    def _entry(self) -> Club:
        if self.kind == "closed" and self.entry is None:
            raise ValueError("a closed club needs an entry threshold")
        return self


class Plan(Benefits):
    """A paid membership (VIP): a price per period, its own earning multiplier, discount and perks."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")
    name: Localized
    price: int = Field(ge=0, le=MAX_AMOUNT, description="per period, in minor units")
    period: Literal["monthly", "yearly"]
    reminder_days: int = Field(7, ge=0, le=MAX_DAYS, description="Remind the member this many days before the plan ends.")


class ProgramDocument(Strict):
    name: Localized = ""
    settings: Settings = Settings()
    club: Club = Club()
    birthday_gift: BirthdayGift | None = None
    referral: Referral | None = None
    rules: list[Rule] = []
    tiers: Tiers | None = None
    plans: list[Plan] = []
    loyalty_table: LoyaltyTable | None = None

    def plan(self, code: str | None) -> Plan | None:
        return next((plan for plan in self.plans if plan.code == code), None)


def reference_problems(data: Any) -> list[tuple[tuple, str]]:
    """Problems between parts of the document (ids, references to rules and tiers), each with its path; read
    from the raw data so they are found even when other fields are invalid."""
    def as_list(value: Any) -> list:
        return value if isinstance(value, list) else []

    def as_dict(value: Any) -> dict:
        return value if isinstance(value, dict) else {}

    if not isinstance(data, dict):
        return []
    rules = as_list(data.get("rules"))
    tier_codes = {level.get("code") for level in as_list(as_dict(data.get("tiers")).get("levels"))
                  if isinstance(level, dict)}
    earn_ids = {r.get("id") for r in rules if isinstance(r, dict) and r.get("kind") == "earn"}
    problems: list[tuple[tuple, str]] = []
    plan_codes = [plan.get("code") for plan in as_list(data.get("plans")) if isinstance(plan, dict)]
    for i, code in enumerate(plan_codes):
        if code in plan_codes[:i]:
            problems.append((("plans", i, "code"), f"plan code '{code}' is used twice"))
    seen: set = set()
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        rule_id = rule.get("id")
        if rule_id in seen:
            problems.append((("rules", i, "id"), f"rule id '{rule_id}' is used twice"))
        seen.add(rule_id)
        if rule.get("kind") == "multiplier":
            for target in as_list(rule.get("applies_to")):
                if target not in earn_ids:
                    problems.append((("rules", i, "applies_to"),
                                     f"rule '{rule_id}' applies to unknown earn rule '{target}'"))
        for tier in as_list(as_dict(rule.get("when")).get("tiers")):
            if tier not in tier_codes:
                problems.append((("rules", i, "when", "tiers"), f"rule '{rule_id}' names unknown tier '{tier}'"))
    return problems


def validation_problems(exc: Exception) -> list[dict[str, str]]:
    """Every problem of a failed validation as {field, message}, for a 422 or the CLI."""
    if not isinstance(exc, ValidationError):
        return [{"field": "", "message": str(exc)}]
    problems = []
    for error in exc.errors():
        # Drop the discriminator tag Pydantic puts in the path of a tagged union member.
        loc = [str(part) for part in error["loc"] if part not in ("earn", "multiplier", "cashback", "stamp", "sequence")]
        # Pydantic's own sentence names the bound or the choices ("greater than or equal to 0"), which a
        # program author needs more than a generic code.
        message = error["msg"].removeprefix("Value error, ")
        problems.append({"field": ".".join(loc), "message": message})
    return problems


def parse_document(data: dict[str, Any]) -> ProgramDocument:
    """The validated document, or a ValidationError listing every problem: field errors and references."""
    errors: list[InitErrorDetails] = []
    document = None
    try:
        document = ProgramDocument.model_validate(data)
    except ValidationError as exc:
        errors.extend(InitErrorDetails(type=e["type"], loc=e["loc"], input=e.get("input"), ctx=e.get("ctx", {}))
                      if e.get("ctx") else InitErrorDetails(type=e["type"], loc=e["loc"], input=e.get("input"))
                      for e in exc.errors())
    for loc, message in reference_problems(data):
        errors.append(InitErrorDetails(type="value_error", loc=loc, input=None, ctx={"error": ValueError(message)}))
    if errors:
        raise ValidationError.from_exception_data("ProgramDocument", errors)
    assert document is not None
    return document


def dump_document(document: ProgramDocument) -> dict[str, Any]:
    return document.model_dump(mode="json", exclude_defaults=True)
