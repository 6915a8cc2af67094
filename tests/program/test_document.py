"""The program document: what it accepts, what it rejects, and how it reports every problem."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from vafa.program.document import dump_document, parse_document, validation_problems
from vafa.program.engine import Activity, Context, Line, MemberSnapshot, evaluate

DOCS = Path(__file__).parents[2] / "docs/program.md"

LEVELS = [
    {"code": "bronze", "name": "Bronze", "threshold": 0},
    {"code": "silver", "name": "Silver", "threshold": 5_000_000, "multiplier": 2},
    {"code": "gold", "name": "Gold", "threshold": 20_000_000, "multiplier": 3, "discount_percent": 5},
]


def earn(rule_id: str = "base", **fields) -> dict:
    return {"id": rule_id, "kind": "earn", "per": 100_000, "award": 10} | fields


def problems(data: dict) -> list[dict[str, str]]:
    """The problems of an invalid document; fails the test when it is valid."""
    with pytest.raises(ValidationError) as caught:
        parse_document(data)
    return validation_problems(caught.value)


def fields(data: dict) -> list[str]:
    return [p["field"] for p in problems(data)]


# --- a valid document -----------------------------------------------------------------------------------


def test_empty_document_is_valid_with_defaults():
    document = parse_document({})
    assert document.rules == []
    assert document.tiers is None
    assert document.loyalty_table is None
    assert document.settings.earn_on_credit_payments is False
    assert document.settings.multiplier_combination == "multiply"
    points = document.settings.currency("points")
    assert (points.expiry_days, points.pending_days, points.reminder_days) == (None, 0, None)  # messaging decides


def test_rule_defaults():
    rule = parse_document({"rules": [{"id": "base", "kind": "earn", "award": 10}]}).rules[0]
    assert (rule.on, rule.basis, rule.per, rule.currency, rule.rounding, rule.proportional, rule.stop) == (
        "purchase", "amount", 1, "points", "floor", False, False)


def test_currency_settings():
    document = parse_document({"settings": {"currencies": {
        "points": {"expiry_days": 365, "pending_days": 14, "reminder_days": 7},
        "wallet": {"expiry_days": 180}}}})
    points = document.settings.currency("points")
    assert (points.expiry_days, points.pending_days, points.reminder_days) == (365, 14, 7)
    assert document.settings.currency("wallet").expiry_days == 180
    assert document.settings.currency("coins").expiry_days is None


@pytest.mark.parametrize("bad", [{"expiry_days": 0}, {"pending_days": -1}, {"reminder_days": -1}])
def test_currency_settings_ranges(bad):
    assert fields({"settings": {"currencies": {"points": bad}}}) == [f"settings.currencies.points.{next(iter(bad))}"]


def test_unknown_currency_rejected():
    assert fields({"settings": {"currencies": {"miles": {}}}}) == ["settings.currencies.miles.[key]"]


# --- unknown fields (extra = forbid) --------------------------------------------------------------------


@pytest.mark.parametrize(("data", "field"), [
    ({"nmae": "Café"}, "nmae"),
    ({"settings": {"earn_on_credit": True}}, "settings.earn_on_credit"),
    ({"settings": {"currencies": {"points": {"expiry": 30}}}}, "settings.currencies.points.expiry"),
    ({"rules": [earn(points=5)]}, "rules.0.points"),
    ({"rules": [earn(when={"category": ["coffee"]})]}, "rules.0.when.category"),
    ({"rules": [earn(cap={"per_day": 5})]}, "rules.0.cap.per_day"),
    ({"rules": [{"id": "x", "kind": "multiplier", "factor": 2, "award": 1}]}, "rules.0.award"),
    ({"rules": [{"id": "s", "kind": "stamp", "every": 10, "reward": {"code": "m", "value": 1}}]},
     "rules.0.reward.value"),
    ({"tiers": {"levels": [{"code": "a", "name": "A", "threshold": 0, "color": "red"}]}},
     "tiers.levels.0.color"),
    ({"loyalty_table": {"rates": [{"points": 100, "value": 1, "season": "high"}]}},
     "loyalty_table.rates.0.season"),
])
def test_unknown_fields_rejected(data, field):
    assert problems(data) == [{"field": field, "message": "Extra inputs are not permitted"}]


def test_unknown_rule_kind_rejected():
    (problem,) = problems({"rules": [{"id": "a", "kind": "bonus", "award": 1}]})
    assert problem["field"] == "rules.0"
    assert "bonus" in problem["message"]


# --- references between sections ----------------------------------------------------------------------


def test_duplicate_rule_ids():
    (problem,) = problems({"rules": [earn("base"), earn("base", award=5)]})
    assert "rule id 'base' is used twice" in problem["message"]


def test_duplicate_ids_across_kinds():
    (problem,) = problems({"rules": [earn("x"), {"id": "x", "kind": "cashback", "percent": 1}]})
    assert "rule id 'x' is used twice" in problem["message"]


def test_multiplier_applies_to_unknown_rule():
    (problem,) = problems({"rules": [earn("base"), {"id": "x2", "kind": "multiplier", "factor": 2,
                                                    "applies_to": ["bse"]}]})
    assert "rule 'x2' applies to unknown earn rule 'bse'" in problem["message"]


def test_multiplier_applies_to_a_rule_that_is_not_an_earn_rule():
    (problem,) = problems({"rules": [{"id": "cb", "kind": "cashback", "percent": 1},
                                     {"id": "x2", "kind": "multiplier", "factor": 2, "applies_to": ["cb"]}]})
    assert "unknown earn rule 'cb'" in problem["message"]


def test_unknown_tier_in_conditions():
    (problem,) = problems({"rules": [earn(when={"tiers": ["platinum"]})], "tiers": {"levels": LEVELS}})
    assert "rule 'base' names unknown tier 'platinum'" in problem["message"]


def test_tier_in_conditions_without_any_tiers():
    (problem,) = problems({"rules": [earn(when={"tiers": ["gold"]})]})
    assert "unknown tier 'gold'" in problem["message"]


def test_known_tier_in_conditions_is_valid():
    document = parse_document({"rules": [earn(when={"tiers": ["gold"]})], "tiers": {"levels": LEVELS}})
    assert document.rules[0].when.tiers == ["gold"]


# --- tiers ---------------------------------------------------------------------------------------------


def test_tier_thresholds_must_start_at_zero():
    assert problems({"tiers": {"levels": [{"code": "a", "name": "A", "threshold": 100}]}}) == [
        {"field": "tiers", "message": "the first level's threshold must be 0"}]


@pytest.mark.parametrize("second", [0, 500])
def test_tier_thresholds_must_increase(second):
    levels = [{"code": "a", "name": "A", "threshold": 0}, {"code": "b", "name": "B", "threshold": 1_000},
              {"code": "c", "name": "C", "threshold": second}]
    assert problems({"tiers": {"levels": levels}}) == [
        {"field": "tiers", "message": "thresholds must increase strictly"}]


def test_tier_codes_unique():
    levels = [{"code": "a", "name": "A", "threshold": 0}, {"code": "a", "name": "B", "threshold": 1}]
    assert problems({"tiers": {"levels": levels}}) == [{"field": "tiers", "message": "tier codes must be unique"}]


def test_tiers_need_a_level():
    assert fields({"tiers": {"levels": []}}) == ["tiers.levels"]


@pytest.mark.parametrize(("bad", "field"), [
    ({"multiplier": 0}, "tiers.levels.0"),
    ({"discount_percent": 101}, "tiers.levels.0"),
    ({"discount_percent": -1}, "tiers.levels.0"),
    ({"threshold": -1}, "tiers.levels.0.threshold"),
    ({"code": "Gold"}, "tiers.levels.0.code"),
])
def test_tier_level_ranges(bad, field):
    assert fields({"tiers": {"levels": [{"code": "a", "name": "A", "threshold": 0} | bad]}}) == [field]


def test_tier_defaults():
    tiers = parse_document({"tiers": {"levels": LEVELS}}).tiers
    assert (tiers.basis, tiers.window_days, tiers.review_every_days) == ("spend", 365, 30)
    assert tiers.levels[0].multiplier == 1
    assert tiers.levels[0].discount_percent == 0
    assert tiers.level("gold").discount_percent == 5
    assert tiers.level("platinum") is None


# --- exact numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", ["1.5", 1.5, Fraction(3, 2), "1.50"])
def test_factor_is_an_exact_decimal(factor):
    rule = parse_document({"rules": [{"id": "x", "kind": "multiplier", "factor": factor}]}).rules[0]
    assert rule.factor == Fraction(3, 2)
    assert isinstance(rule.factor, Fraction)


def test_float_read_from_its_decimal_text():
    rule = parse_document({"rules": [{"id": "x", "kind": "multiplier", "factor": 1.1}]}).rules[0]
    assert rule.factor == Fraction(11, 10)  # not the binary float 1.100000000000000088817841970012523…
    cashback = parse_document({"rules": [{"id": "c", "kind": "cashback", "percent": 12.5}]}).rules[0]
    assert cashback.percent == Fraction(25, 2)
    level = parse_document({"tiers": {"levels": [{"code": "a", "name": "A", "threshold": 0,
                                                  "multiplier": "1.25"}]}}).tiers.levels[0]
    assert level.multiplier == Fraction(5, 4)


def test_exact_numbers_written_back_as_decimal_text():
    document = parse_document({"rules": [{"id": "x", "kind": "multiplier", "factor": 1.5},
                                         {"id": "y", "kind": "multiplier", "factor": 2},
                                         {"id": "c", "kind": "cashback", "percent": "2.5"}]})
    rules = dump_document(document)["rules"]
    assert [rules[0]["factor"], rules[1]["factor"], rules[2]["percent"]] == ["1.5", 2, "2.5"]
    assert parse_document(dump_document(document)) == document


@pytest.mark.parametrize("bad", ["abc", "NaN", True, "", None])
def test_factor_not_a_number(bad):
    assert fields({"rules": [{"id": "x", "kind": "multiplier", "factor": bad}]}) == ["rules.0.factor"]


@pytest.mark.parametrize("bad", ["Infinity", "-inf", float("inf")])
def test_infinite_factor_is_a_validation_problem(bad):
    # An infinite factor must be reported like any other bad number, not escape as OverflowError.
    assert fields({"rules": [{"id": "x", "kind": "multiplier", "factor": bad}]}) == ["rules.0.factor"]


@pytest.mark.parametrize("factor", [0, -2, "-0.5"])
def test_factor_must_be_positive(factor):
    (problem,) = problems({"rules": [{"id": "x", "kind": "multiplier", "factor": factor}]})
    assert problem == {"field": "rules.0", "message": "factor must be positive"}


@pytest.mark.parametrize("percent", [0, "-1", "100.01"])
def test_cashback_percent_range(percent):
    (problem,) = problems({"rules": [{"id": "c", "kind": "cashback", "percent": percent}]})
    assert problem == {"field": "rules.0", "message": "percent must be above 0 and at most 100"}


def test_cashback_percent_100_is_allowed():
    assert parse_document({"rules": [{"id": "c", "kind": "cashback", "percent": 100}]}).rules[0].percent == 100


# --- rule fields ----------------------------------------------------------------------------------------


def test_negative_award_rejected():
    assert problems({"rules": [earn(award=-10)]}) == [
        {"field": "rules.0.award", "message": "Input should be greater than or equal to 0"}]


@pytest.mark.parametrize(("bad", "field"), [
    ({"per": 0}, "rules.0.per"),
    ({"award": "ten"}, "rules.0.award"),
    ({"id": "Base"}, "rules.0.id"),
    ({"id": ""}, "rules.0.id"),
    ({"basis": "weight"}, "rules.0.basis"),
    ({"on": "refund"}, "rules.0.on"),
    ({"rounding": "down"}, "rules.0.rounding"),
    ({"currency": "miles"}, "rules.0.currency"),
    ({"cap": {"per_purchase": -1}}, "rules.0.cap.per_purchase"),
    ({"cap": {"period": "hour"}}, "rules.0.cap.period"),
    ({"when": {"weekdays": ["friday"]}}, "rules.0.when.weekdays.0"),
    ({"when": {"nth": [0]}}, "rules.0.when.nth.0"),
    ({"when": {"min_amount": -1}}, "rules.0.when.min_amount"),
    ({"when": {"min_quantity": -1}}, "rules.0.when.min_quantity"),
])
def test_bad_rule_fields(bad, field):
    assert fields({"rules": [earn() | bad]}) == [field]


def test_award_is_required():
    assert fields({"rules": [{"id": "a", "kind": "earn"}]}) == ["rules.0.award"]


@pytest.mark.parametrize(("rule", "message"), [
    ({"id": "e", "kind": "earn", "on": "event", "basis": "fixed", "award": 5}, "an event rule names its event"),
    ({"id": "e", "kind": "earn", "basis": "unit", "per": 1000, "award": 5}, "basis 'unit' needs a unit name"),
    ({"id": "e", "kind": "earn", "on": "visit", "award": 5}, "basis 'amount' only applies to purchases"),
    ({"id": "e", "kind": "earn", "on": "visit", "basis": "quantity", "award": 5},
     "basis 'quantity' only applies to purchases"),
])
def test_inconsistent_earn_rules(rule, message):
    assert problems({"rules": [rule]}) == [{"field": "rules.0", "message": message}]


def test_stamp_and_sequence_fields():
    assert fields({"rules": [{"id": "s", "kind": "stamp", "every": 0, "reward": {"code": "m"}}]}) == [
        "rules.0.every"]
    assert fields({"rules": [{"id": "s", "kind": "stamp", "every": 10}]}) == ["rules.0.reward"]
    assert fields({"rules": [{"id": "s", "kind": "stamp", "every": 10, "reward": {"code": ""}}]}) == [
        "rules.0.reward.code"]
    assert fields({"rules": [{"id": "q", "kind": "sequence", "steps": []}]}) == ["rules.0.steps"]
    assert fields({"rules": [{"id": "q", "kind": "sequence", "counts": "event", "steps": [{"code": "a"}]}]}) == [
        "rules.0.counts"]


# --- dates and hours -------------------------------------------------------------------------------------


def test_jalali_dates_in_documents():
    document = parse_document({"rules": [earn(when={"dates": {"start": "1404/01/01", "end": "۱۴۰۴/۰۱/۱۳"}})],
                               "loyalty_table": {"rates": [{"points": 100, "value": 1, "start": "1404/04/01",
                                                            "end": "2025-09-22"}]}})
    dates = document.rules[0].when.dates
    assert (dates.start, dates.end) == (dt.date(2025, 3, 21), dt.date(2025, 4, 2))
    rate = document.loyalty_table.rates[0]
    assert (rate.start, rate.end, rate.dated) == (dt.date(2025, 6, 22), dt.date(2025, 9, 22), True)


def test_date_range_in_order():
    (problem,) = problems({"rules": [earn(when={"dates": {"start": "1404/02/01", "end": "1404/01/01"}})]})
    assert problem == {"field": "rules.0.when.dates", "message": "start is after end"}


def test_impossible_date_is_a_validation_problem():
    # 1404/13/01 does not exist; it must be reported where it is, with the document's other problems.
    found = problems({"rules": [earn(when={"dates": {"start": "1404/13/01"}}), earn("other", award=-1)]})
    assert [p["field"] for p in found] == ["rules.0.when.dates.start", "rules.1.award"]


def test_hours_windows():
    hours = parse_document({"rules": [earn(when={"hours": [{"start": "22:00", "end": "02:00"}]})]}).rules[0].when.hours
    assert (hours[0].start, hours[0].end) == (dt.time(22, 0), dt.time(2, 0))
    assert fields({"rules": [earn(when={"hours": [{"start": "25:00", "end": "02:00"}]})]}) == [
        "rules.0.when.hours.0.start"]


@pytest.mark.parametrize("start", [1320, "22:00+03:30"])
def test_hours_must_be_plain_clock_times(start):
    # YAML reads an unquoted 22:00 as the integer 1320 (base 60); Pydantic turns that into 00:22 UTC, an aware
    # time the engine cannot compare with local clock time (TypeError at evaluation). It must be rejected.
    assert fields({"rules": [earn(when={"hours": [{"start": start, "end": "02:00"}]})]}) == [
        "rules.0.when.hours.0.start"]


# --- every problem, each on its own ---------------------------------------------------------------------


def test_validation_problems_lists_every_field_problem():
    found = problems({"settings": {"multiplier_combination": "max"},
                      "rules": [earn(award=-1), earn("b", per=0)]})
    assert [p["field"] for p in found] == ["settings.multiplier_combination", "rules.0.award", "rules.1.per"]
    assert all(p["message"] for p in found)


def test_two_independent_problems_two_entries():
    found = problems({"nmae": "x", "rules": [earn(award=-1)]})
    assert len(found) == 2
    assert {p["field"] for p in found} == {"nmae", "rules.0.award"}


def test_two_reference_problems_two_entries():
    found = problems({"rules": [earn("a"), earn("a"),
                                {"id": "x2", "kind": "multiplier", "factor": 2, "applies_to": ["zz"]}]})
    assert len(found) == 2
    assert any("rule id 'a' is used twice" in p["message"] for p in found)
    assert any("unknown earn rule 'zz'" in p["message"] for p in found)


def test_field_problem_and_reference_problem_both_listed():
    found = problems({"rules": [earn("a", award=-1),
                                {"id": "x2", "kind": "multiplier", "factor": 2, "applies_to": ["zz"]}]})
    assert len(found) == 2
    assert any(p["field"] == "rules.0.award" for p in found)
    assert any("unknown earn rule 'zz'" in p["message"] for p in found)


def test_validation_problems_of_a_plain_error():
    assert validation_problems(ValueError("bad")) == [{"field": "", "message": "bad"}]


# --- docs/program.md: every YAML example is a valid program ---------------------------------------------


def yaml_examples() -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", DOCS.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_docs_have_yaml_examples():
    assert len(yaml_examples()) >= 4


@pytest.mark.parametrize("index", range(len(yaml_examples()) if DOCS.exists() else 0))
def test_docs_yaml_example_is_valid(index):
    data = yaml.safe_load(yaml_examples()[index])
    assert isinstance(data, dict)
    document = parse_document(data)
    assert parse_document(dump_document(document)) == document
    # The engine runs on it: a purchase, a visit and an event, in Persian and in English.
    at = dt.datetime(2025, 7, 1, 19, 30, tzinfo=dt.UTC)
    activities = [
        Activity("purchase", at, branch="t1", total=1_000_000,
                 lines=(Line("latte", "coffee", 2, 400_000), Line("cake", "pastry", 2, 600_000)),
                 units={"km": 2_500}),
        Activity("visit", at, branch="t1", units={"checkup": 1}),
        Activity("event", at, event="survey_completed"),
    ]
    for ctx in (Context(language="fa"), Context(language="en", calendar="gregorian")):
        for activity in activities:
            for effect in evaluate(document, MemberSnapshot(purchase_count=9), activity, ctx):
                assert effect.reason


# --- bounds: no document can make a later purchase fail (issue 10) --------------------------------------


@pytest.mark.parametrize(("document", "field"), [
    ({"rules": [earn(award=10**30)]}, "rules.0.award"),
    ({"rules": [earn(per=10**16)]}, "rules.0.per"),
    ({"rules": [earn(), {"id": "x2", "kind": "multiplier", "factor": 1000}]}, "rules.1"),
    ({"rules": [earn(), {"id": "x2", "kind": "multiplier", "factor": "1e999999999"}]}, "rules.1.factor"),
    ({"rules": [earn(), {"id": "x2", "kind": "multiplier", "factor": "1.0000000001"}]}, "rules.1.factor"),
    ({"tiers": {"levels": [{"code": "b", "name": "B", "threshold": 0},
                           {"code": "g", "name": "G", "threshold": 10**30}]}}, "tiers.levels.1.threshold"),
    ({"tiers": {"levels": [{"code": "b", "name": "B", "threshold": 0, "multiplier": 1000}]}}, "tiers.levels.0"),
    ({"settings": {"currencies": {"points": {"expiry_days": 10**9}}}}, "settings.currencies.points.expiry_days"),
    ({"rules": [{"id": "s", "kind": "stamp", "every": 10**12, "reward": {"code": "free"}}]}, "rules.0.every"),
])
def test_absurd_values_are_refused_with_the_field_named(document, field):
    found = problems(document)
    assert [p["field"] for p in found] == [field], found


def test_the_largest_values_allowed_are_accepted():
    parse_document({"rules": [earn(award=10**9), {"id": "x", "kind": "multiplier", "factor": "100"}],
                    "settings": {"currencies": {"points": {"expiry_days": 36_500, "pending_days": 36_500}}}})
