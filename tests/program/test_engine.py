"""The rules engine, rule kind by rule kind, with exact numbers. Pure functions: no database."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from vafa.program.document import parse_document
from vafa.program.engine import (
    Activity,
    Context,
    Line,
    MemberSnapshot,
    cap_period_start,
    convert_points,
    current_rate,
    earning_base,
    evaluate,
    member_promotions,
    qualified_tier,
    reconcile_rewards,
    tier_progress,
)

TEHRAN = ZoneInfo("Asia/Tehran")
UTC = dt.UTC
FA = Context(timezone="Asia/Tehran", language="fa", currency="IRT", calendar="jalali")
EN = Context(timezone="Asia/Tehran", language="en", currency="IRT", calendar="jalali")
NEW = MemberSnapshot()
# Tuesday 3 June 2025 (1404/03/13), noon in Tehran.
NOON = dt.datetime(2025, 6, 3, 12, 0, tzinfo=TEHRAN)

TIERS = {
    "basis": "spend",
    "levels": [
        {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
        {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 5_000_000, "multiplier": 2},
        {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": 20_000_000, "multiplier": 3,
         "discount_percent": 5},
    ],
}


def doc(*rules: dict, **extra):
    return parse_document({"rules": list(rules), **extra})


def base_rule(**fields) -> dict:
    """10 points per 100,000 Toman."""
    return {"id": "base", "kind": "earn", "per": 100_000, "award": 10} | fields


def purchase(total: int | None = None, *lines: Line, at: dt.datetime = NOON, **fields) -> Activity:
    if total is None:
        total = sum(line.amount for line in lines)
    return Activity("purchase", at, total=total, lines=tuple(lines), **fields)


def visit(at: dt.datetime = NOON, **fields) -> Activity:
    return Activity("visit", at, **fields)


def amounts(effects) -> dict[str, int]:
    """rule id → amount, for earn and cashback effects."""
    return {e.rule_id: e.amount for e in effects if e.kind in ("earn", "cashback")}


def earned(document, activity: Activity, snapshot: MemberSnapshot = NEW, ctx: Context = EN) -> dict[str, int]:
    return amounts(evaluate(document, snapshot, activity, ctx))


def rewards(document, activity: Activity, snapshot: MemberSnapshot = NEW, ctx: Context = EN) -> list:
    return [e for e in evaluate(document, snapshot, activity, ctx) if e.kind == "reward"]


# --- F16 simple points: 10 points per 100,000 Toman ---------------------------------------------------


def test_10_points_per_100000_toman_counts_whole_steps():
    document = doc(base_rule())
    assert earned(document, purchase(250_000)) == {"base": 20}
    assert earned(document, purchase(100_000)) == {"base": 10}
    assert earned(document, purchase(199_999)) == {"base": 10}
    assert earned(document, purchase(99_999)) == {}
    assert earned(document, purchase(0)) == {}


def test_10_points_per_100000_toman_effect_fields():
    (effect,) = evaluate(doc(base_rule()), NEW, purchase(250_000), EN)
    assert effect.kind == "earn"
    assert effect.rule_id == "base"
    assert effect.amount == 20
    assert effect.currency == "points"
    assert effect.basis == 250_000


@pytest.mark.parametrize(("total", "expected"), [
    (250_000, 30),  # 2.5 steps → 3 (exactly half goes up)
    (249_999, 20),  # 2.49999 steps → 2
    (150_000, 20),
    (49_999, 0),
    (50_000, 10),
])
def test_half_up_rounding_of_steps(total, expected):
    assert earned(doc(base_rule(rounding="half_up")), purchase(total)).get("base", 0) == expected


@pytest.mark.parametrize(("total", "expected"), [
    (250_000, 30),
    (200_000, 20),  # a whole number of steps is not rounded up
    (200_001, 30),
    (1, 10),
])
def test_ceil_rounding_of_steps(total, expected):
    assert earned(doc(base_rule(rounding="ceil")), purchase(total)).get("base", 0) == expected


@pytest.mark.parametrize(("rounding", "total", "expected"), [
    ("floor", 250_000, 25),
    ("floor", 259_999, 25),  # 25.9999
    ("floor", 9_999, 0),
    ("half_up", 255_000, 26),  # 25.5
    ("half_up", 254_999, 25),  # 25.49999
    ("ceil", 250_001, 26),
    ("ceil", 250_000, 25),
])
def test_proportional_award(rounding, total, expected):
    document = doc(base_rule(proportional=True, rounding=rounding))
    assert earned(document, purchase(total)).get("base", 0) == expected


def test_award_in_another_currency():
    document = doc(base_rule(currency="coins", award=1))
    (effect,) = evaluate(document, NEW, purchase(350_000), EN)
    assert (effect.currency, effect.amount) == ("coins", 3)


# --- F14 / F18 non-monetary bases ---------------------------------------------------------------------


DENTIST = {"id": "checkup", "kind": "earn", "on": "visit", "basis": "visit", "award": 50}


def test_dentist_rewards_visits_not_amounts():
    document = doc(DENTIST)
    assert earned(document, visit()) == {"checkup": 50}
    # A purchase earns nothing from a visit rule, however large.
    assert earned(document, purchase(10_000_000)) == {}
    (effect,) = evaluate(document, NEW, visit(), EN)
    assert effect.basis == 1
    assert effect.reason == "50 points: for the visit"


def test_dentist_visit_rule_and_purchase_rule_side_by_side():
    document = doc(DENTIST, base_rule())
    assert earned(document, visit()) == {"checkup": 50}
    assert earned(document, purchase(300_000)) == {"base": 30}


AIRLINE = {"id": "miles", "kind": "earn", "basis": "unit", "unit": "km", "per": 1000, "award": 100}


@pytest.mark.parametrize(("km", "expected"), [(2_500, 200), (1_000, 100), (999, 0), (12_345, 1_200), (0, 0)])
def test_distance_units_whole_steps(km, expected):
    assert earned(doc(AIRLINE), purchase(0, units={"km": km})).get("miles", 0) == expected


def test_distance_units_proportional_and_other_units():
    document = doc(AIRLINE | {"proportional": True})
    assert earned(document, purchase(0, units={"km": 2_500})) == {"miles": 250}
    assert earned(document, purchase(0, units={"km": 2_555})) == {"miles": 255}  # 255.5 floored
    # Units of another name do not count; the amount does not count either.
    assert earned(document, purchase(5_000_000, units={"mile": 2_500})) == {}


def test_distance_units_on_a_visit():
    document = doc(AIRLINE | {"on": "visit"})
    assert earned(document, visit(units={"km": 3_000})) == {"miles": 300}
    (effect,) = evaluate(document, NEW, visit(units={"km": 3_000}), EN)
    assert effect.basis == 3_000
    assert effect.reason == "300 points: 100 points per 1,000 km (3,000 km)"


def test_quantity_basis_counts_items_of_the_categories():
    document = doc({"id": "cups", "kind": "earn", "basis": "quantity", "per": 1, "award": 5,
                    "when": {"categories": ["coffee"]}})
    activity = purchase(None, Line("latte", "coffee", 3, 300_000), Line("cake", "pastry", 2, 200_000),
                        Line("espresso", "coffee", 1, 80_000))
    assert earned(document, activity) == {"cups": 20}  # 4 coffees × 5
    (effect,) = evaluate(document, NEW, activity, EN)
    assert effect.basis == 4
    assert earned(document, purchase(None, Line("cake", "pastry", 5, 500_000))) == {}


def test_quantity_basis_whole_steps():
    document = doc({"id": "packs", "kind": "earn", "basis": "quantity", "per": 3, "award": 7})
    assert earned(document, purchase(None, Line("a", "x", 8, 80_000))) == {"packs": 14}  # 2 whole steps of 3
    assert earned(document, purchase(None, Line("a", "x", 2, 20_000))) == {}


def test_event_rule_rewards_its_event_only():
    document = doc({"id": "survey", "kind": "earn", "on": "event", "event": "survey_completed",
                    "basis": "fixed", "award": 50}, base_rule())
    survey = Activity("event", NOON, event="survey_completed")
    assert earned(document, survey) == {"survey": 50}
    assert earned(document, Activity("event", NOON, event="newsletter_signup")) == {}
    assert earned(document, purchase(100_000)) == {"base": 10}
    assert earned(document, visit()) == {}
    (effect,) = evaluate(document, NEW, survey, EN)
    assert effect.reason == "50 points: for survey_completed"


# --- F20 stamp card: every 10th invoice a free meal ---------------------------------------------------


STAMP = {"id": "meal", "kind": "stamp", "every": 10,
         "reward": {"code": "free_meal", "name": {"fa": "غذای رایگان", "en": "Free meal"}}}


def test_every_10th_invoice_a_free_meal():
    document = doc(base_rule(), STAMP)
    (reward,) = rewards(document, purchase(100_000), MemberSnapshot(purchase_count=9))
    assert reward.reward_key == "stamp:meal:1"
    assert reward.reward_code == "free_meal"
    assert reward.reward_name == "Free meal"
    assert reward.rule_id == "meal"
    assert reward.basis == 10
    assert reward.reason == "Free meal: a reward every 10 purchases (purchase #10)"
    # The points of the same purchase come too.
    assert earned(document, purchase(100_000), MemberSnapshot(purchase_count=9)) == {"base": 10}


def test_stamp_not_before_the_10th():
    document = doc(STAMP)
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=8)) == []
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=0)) == []
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=10,
                                                               issued_rewards=frozenset({"stamp:meal:1"}))) == []


def test_stamp_already_issued_is_not_issued_again():
    document = doc(STAMP)
    snapshot = MemberSnapshot(purchase_count=9, issued_rewards=frozenset({"stamp:meal:1"}))
    assert rewards(document, purchase(100_000), snapshot) == []


def test_twentieth_purchase_gives_the_second_stamp():
    document = doc(STAMP)
    snapshot = MemberSnapshot(purchase_count=19, issued_rewards=frozenset({"stamp:meal:1"}))
    (reward,) = rewards(document, purchase(100_000), snapshot)
    assert reward.reward_key == "stamp:meal:2"
    assert reward.basis == 20


def test_stamp_counts_only_its_activity():
    document = doc(STAMP | {"counts": "visit"})
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=9, visit_count=9)) == []
    (reward,) = rewards(document, visit(), MemberSnapshot(purchase_count=0, visit_count=9))
    assert reward.reward_key == "stamp:meal:1"


def test_stamp_reason_in_persian():
    (reward,) = rewards(doc(STAMP), purchase(100_000), MemberSnapshot(purchase_count=9), FA)
    assert reward.reward_name == "غذای رایگان"
    assert "۱۰" in reward.reason
    assert reward.reason.startswith("غذای رایگان")


def test_reconcile_revokes_a_stamp_when_the_count_drops():
    document = doc(STAMP)
    issue, revoke = reconcile_rewards(document, 9, 0, frozenset({"stamp:meal:1"}), EN)
    assert issue == []
    assert [(e.kind, e.rule_id, e.reward_key) for e in revoke] == [("revoke", "meal", "stamp:meal:1")]
    assert revoke[0].reason


def test_reconcile_keeps_what_is_still_owed_and_revokes_only_the_rest():
    document = doc(STAMP)
    issued = frozenset({"stamp:meal:1", "stamp:meal:2"})
    issue, revoke = reconcile_rewards(document, 19, 0, issued, EN)
    assert issue == []
    assert [e.reward_key for e in revoke] == ["stamp:meal:2"]
    assert reconcile_rewards(document, 20, 0, issued, EN) == ([], [])


def test_reconcile_issues_what_is_owed_and_missing():
    document = doc(STAMP)
    issue, revoke = reconcile_rewards(document, 20, 0, frozenset({"stamp:meal:1"}), EN)
    assert [e.reward_key for e in issue] == ["stamp:meal:2"]
    assert revoke == []


def test_reconcile_ignores_keys_of_other_rules():
    document = doc(STAMP)
    issue, revoke = reconcile_rewards(document, 0, 0, frozenset({"stamp:mealx:1", "seq:meal:1"}), EN)
    assert (issue, revoke) == ([], [])


# --- F21 sequential program ---------------------------------------------------------------------------


WELCOME = {"id": "welcome", "kind": "sequence", "steps": [
    {"code": "free_shipping", "name": {"fa": "ارسال رایگان", "en": "Free shipping"}},
    {"code": "free_item", "name": {"fa": "کالای رایگان", "en": "Free item"}},
    {"code": "ten_off", "name": {"fa": "۱۰٪ تخفیف", "en": "10% off"}},
]}


@pytest.mark.parametrize(("count", "issued", "key", "code"), [
    (0, set(), "seq:welcome:1", "free_shipping"),
    (1, {"seq:welcome:1"}, "seq:welcome:2", "free_item"),
    (2, {"seq:welcome:1", "seq:welcome:2"}, "seq:welcome:3", "ten_off"),
])
def test_sequential_program_position_from_purchase_count(count, issued, key, code):
    document = doc(WELCOME)
    (reward,) = rewards(document, purchase(100_000), MemberSnapshot(purchase_count=count,
                                                                    issued_rewards=frozenset(issued)))
    assert (reward.reward_key, reward.reward_code, reward.basis) == (key, code, count + 1)


def test_sequential_program_ends_after_its_steps():
    document = doc(WELCOME)
    issued = frozenset({"seq:welcome:1", "seq:welcome:2", "seq:welcome:3"})
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=3, issued_rewards=issued)) == []
    assert rewards(document, purchase(100_000), MemberSnapshot(purchase_count=7, issued_rewards=issued)) == []


def test_sequential_program_not_given_to_a_later_purchase():
    # The position comes from snapshot.purchase_count: the 6th purchase is position 6, beyond the 3 steps, so a
    # member who joins the welcome sequence late (program changed, or history imported) gets no "1st purchase"
    # free shipping, "2nd purchase" free item and "3rd purchase" 10% off all at once on their 6th purchase.
    assert rewards(doc(WELCOME), purchase(100_000), MemberSnapshot(purchase_count=5)) == []


def test_sequential_program_reasons():
    (reward,) = rewards(doc(WELCOME), purchase(100_000), MemberSnapshot(purchase_count=1,
                                                                        issued_rewards=frozenset({"seq:welcome:1"})))
    assert reward.reason == "Free item: reward for purchase #2"


def test_sequential_program_revoked_when_the_second_purchase_is_cancelled():
    document = doc(WELCOME)
    issue, revoke = reconcile_rewards(document, 1, 0, frozenset({"seq:welcome:1", "seq:welcome:2"}), EN)
    assert issue == []
    assert [e.reward_key for e in revoke] == ["seq:welcome:2"]


# --- conditions ---------------------------------------------------------------------------------------


def test_categories_choose_the_lines_counted():
    document = doc(base_rule(when={"categories": ["coffee"]}))
    activity = purchase(None, Line("latte", "coffee", 2, 250_000), Line("cake", "pastry", 1, 500_000))
    assert earned(document, activity) == {"base": 20}
    assert earned(document, purchase(None, Line("cake", "pastry", 1, 500_000))) == {}
    # No lines at all: nothing is in the category.
    assert earned(document, purchase(500_000)) == {}


def test_skus_choose_the_lines_counted():
    document = doc(base_rule(when={"skus": ["latte", "mocha"]}))
    activity = purchase(None, Line("latte", "coffee", 1, 120_000), Line("mocha", "coffee", 1, 130_000),
                        Line("tea", "coffee", 1, 900_000))
    assert earned(document, activity) == {"base": 20}


def test_categories_and_skus_together_both_hold():
    document = doc(base_rule(when={"categories": ["coffee"], "skus": ["latte"]}))
    activity = purchase(None, Line("latte", "coffee", 1, 300_000), Line("latte", "pastry", 1, 400_000))
    assert earned(document, activity) == {"base": 30}


def test_branches_and_channels():
    document = doc(base_rule(when={"branches": ["t1"], "channels": ["online"]}))
    assert earned(document, purchase(200_000, branch="t1", channel="online")) == {"base": 20}
    assert earned(document, purchase(200_000, branch="v2", channel="online")) == {}
    assert earned(document, purchase(200_000, branch="t1", channel="pos")) == {}
    assert earned(document, purchase(200_000, branch="t1")) == {}


def test_weekdays_in_the_business_timezone():
    # Friday 6 June 2025 21:00 UTC is Saturday 00:30 in Tehran.
    moment = dt.datetime(2025, 6, 6, 21, 0, tzinfo=UTC)
    saturday = doc(base_rule(when={"weekdays": ["sat"]}))
    friday = doc(base_rule(when={"weekdays": ["fri"]}))
    assert earned(saturday, purchase(100_000, at=moment)) == {"base": 10}
    assert earned(friday, purchase(100_000, at=moment)) == {}
    utc = Context(timezone="UTC", language="en")
    assert earned(friday, purchase(100_000, at=moment), ctx=utc) == {"base": 10}
    assert earned(saturday, purchase(100_000, at=moment), ctx=utc) == {}


@pytest.mark.parametrize(("day", "name"), [(2, "mon"), (3, "tue"), (4, "wed"), (5, "thu"), (6, "fri"),
                                           (7, "sat"), (8, "sun")])
def test_weekday_names(day, name):
    document = doc(base_rule(when={"weekdays": [name]}))
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, day, 12, tzinfo=TEHRAN))) == {"base": 10}
    other = dt.datetime(2025, 6, day + 1, 12, tzinfo=TEHRAN)
    assert earned(document, purchase(100_000, at=other)) == {}


@pytest.mark.parametrize(("hour", "minute", "earns"), [
    (15, 59, False), (16, 0, True), (17, 59, True), (18, 0, False),
])
def test_hours_window_start_inclusive_end_exclusive(hour, minute, earns):
    document = doc(base_rule(when={"hours": [{"start": "16:00", "end": "18:00"}]}))
    activity = purchase(100_000, at=dt.datetime(2025, 6, 3, hour, minute, tzinfo=TEHRAN))
    assert earned(document, activity) == ({"base": 10} if earns else {})


@pytest.mark.parametrize(("hour", "minute", "earns"), [
    (21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (1, 59, True), (2, 0, False), (12, 0, False),
])
def test_hours_window_crossing_midnight(hour, minute, earns):
    document = doc(base_rule(when={"hours": [{"start": "22:00", "end": "02:00"}]}))
    activity = purchase(100_000, at=dt.datetime(2025, 6, 3, hour, minute, tzinfo=TEHRAN))
    assert earned(document, activity) == ({"base": 10} if earns else {})


def test_hours_are_local_time():
    document = doc(base_rule(when={"hours": [{"start": "16:00", "end": "18:00"}]}))
    # 13:00 UTC is 16:30 in Tehran.
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 3, 13, 0, tzinfo=UTC))) == {"base": 10}
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 3, 16, 30, tzinfo=UTC))) == {}


def test_several_hour_windows_any_one_holds():
    document = doc(base_rule(when={"hours": [{"start": "08:00", "end": "10:00"},
                                             {"start": "16:00", "end": "18:00"}]}))
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 3, 9, tzinfo=TEHRAN))) == {"base": 10}
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 3, 17, tzinfo=TEHRAN))) == {"base": 10}
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 3, 12, tzinfo=TEHRAN))) == {}


@pytest.mark.parametrize(("moment", "earns"), [
    (dt.datetime(2025, 3, 20, 23, 59, tzinfo=TEHRAN), False),  # 1403/12/30
    (dt.datetime(2025, 3, 21, 0, 0, tzinfo=TEHRAN), True),  # 1404/01/01, first day included
    (dt.datetime(2025, 4, 2, 23, 59, tzinfo=TEHRAN), True),  # 1404/01/13, last day included
    (dt.datetime(2025, 4, 3, 0, 0, tzinfo=TEHRAN), False),  # 1404/01/14
    # 20:45 UTC on 20 March is already 1404/01/01 00:15 in Tehran.
    (dt.datetime(2025, 3, 20, 20, 45, tzinfo=UTC), True),
    (dt.datetime(2025, 3, 20, 20, 15, tzinfo=UTC), False),
])
def test_date_range_jalali_inclusive(moment, earns):
    document = doc(base_rule(when={"dates": {"start": "1404/01/01", "end": "1404/01/13"}}))
    assert earned(document, purchase(100_000, at=moment)) == ({"base": 10} if earns else {})


def test_date_range_gregorian_and_open_ended():
    document = doc(base_rule(when={"dates": {"start": "2025-06-01"}}))
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 6, 1, 0, 0, tzinfo=TEHRAN))) == {"base": 10}
    assert earned(document, purchase(100_000, at=dt.datetime(2025, 5, 31, 23, 59, tzinfo=TEHRAN))) == {}
    until = doc(base_rule(when={"dates": {"end": "2025-06-01"}}))
    assert earned(until, purchase(100_000, at=dt.datetime(2030, 1, 1, tzinfo=TEHRAN))) == {}
    assert earned(until, purchase(100_000, at=dt.datetime(2020, 1, 1, tzinfo=TEHRAN))) == {"base": 10}


def test_tiers_condition():
    document = doc(base_rule(when={"tiers": ["silver", "gold"]}), tiers=TIERS)
    assert earned(document, purchase(100_000), MemberSnapshot(tier="gold")) == {"base": 30}  # gold is ×3
    assert earned(document, purchase(100_000), MemberSnapshot(tier="silver")) == {"base": 20}
    assert earned(document, purchase(100_000), MemberSnapshot(tier="bronze")) == {}
    assert earned(document, purchase(100_000), MemberSnapshot(tier=None)) == {}


@pytest.mark.parametrize(("total", "expected"), [(300_000, {"base": 30}), (299_999, {})])
def test_min_amount_inclusive(total, expected):
    assert earned(doc(base_rule(when={"min_amount": 300_000})), purchase(total)) == expected


def test_min_amount_is_on_the_amount_the_rule_counts():
    document = doc(base_rule(when={"categories": ["coffee"], "min_amount": 200_000}))
    enough = purchase(None, Line("latte", "coffee", 1, 200_000), Line("cake", "pastry", 1, 900_000))
    short = purchase(None, Line("latte", "coffee", 1, 199_999), Line("cake", "pastry", 1, 900_000))
    assert earned(document, enough) == {"base": 20}
    assert earned(document, short) == {}


@pytest.mark.parametrize(("quantity", "expected"), [(3, {"base": 30}), (4, {"base": 40}), (2, {})])
def test_min_quantity_inclusive(quantity, expected):
    document = doc(base_rule(when={"min_quantity": 3}))
    assert earned(document, purchase(None, Line("x", "c", quantity, quantity * 100_000))) == expected


def test_first_purchase():
    document = doc(base_rule(award=50, per=1, basis="fixed", when={"first_purchase": True}))
    assert earned(document, purchase(1_000), MemberSnapshot(purchase_count=0)) == {"base": 50}
    assert earned(document, purchase(1_000), MemberSnapshot(purchase_count=1)) == {}


def test_nth_purchase():
    document = doc(base_rule(when={"nth": [3, 5]}))
    assert earned(document, purchase(100_000), MemberSnapshot(purchase_count=2)) == {"base": 10}
    assert earned(document, purchase(100_000), MemberSnapshot(purchase_count=4)) == {"base": 10}
    assert earned(document, purchase(100_000), MemberSnapshot(purchase_count=3)) == {}
    assert earned(document, purchase(100_000), MemberSnapshot(purchase_count=0)) == {}


def test_nth_visit_counts_visits():
    document = doc(DENTIST | {"when": {"nth": [1]}})
    assert earned(document, visit(), MemberSnapshot(visit_count=0, purchase_count=5)) == {"checkup": 50}
    assert earned(document, visit(), MemberSnapshot(visit_count=1, purchase_count=0)) == {}


def test_all_conditions_must_hold():
    document = doc(base_rule(when={"branches": ["t1"], "weekdays": ["tue"], "min_amount": 100_000}))
    assert earned(document, purchase(100_000, branch="t1")) == {"base": 10}
    assert earned(document, purchase(100_000, branch="v2")) == {}
    wednesday = dt.datetime(2025, 6, 4, 12, tzinfo=TEHRAN)
    assert earned(document, purchase(100_000, branch="t1", at=wednesday)) == {}


# --- F17 multipliers ----------------------------------------------------------------------------------


COFFEE_X2 = {"id": "coffee_x2", "kind": "multiplier", "factor": 2, "when": {"categories": ["coffee"]}}


def test_multiplier_x2_on_a_category_applies_only_to_matching_lines():
    document = doc(base_rule(), COFFEE_X2)
    # Coffee 200,000 → 2 steps ×2 = 40; cake 100,000 → 10.
    activity = purchase(None, Line("latte", "coffee", 2, 200_000), Line("cake", "pastry", 1, 100_000))
    assert earned(document, activity) == {"base": 50}
    assert earned(document, purchase(None, Line("latte", "coffee", 1, 300_000))) == {"base": 60}
    assert earned(document, purchase(None, Line("cake", "pastry", 1, 300_000))) == {"base": 30}


def test_multiplier_scales_whole_steps_not_the_amount():
    # 150,000 ×2 is one whole step ×2 = 20, never 3 steps.
    document = doc(base_rule(), {"id": "x2", "kind": "multiplier", "factor": 2})
    assert earned(document, purchase(150_000)) == {"base": 20}


def test_multiplier_on_mixed_lines_scales_by_the_weighted_factor():
    # Coffee 100,000 (×2) and cake 150,000: 2 whole steps on 250,000, weighted factor 350,000/250,000 = 1.4
    # → floor(20 × 1.4) = 28.
    document = doc(base_rule(), COFFEE_X2)
    activity = purchase(None, Line("latte", "coffee", 1, 100_000), Line("cake", "pastry", 1, 150_000))
    assert earned(document, activity) == {"base": 28}


def test_fractional_multiplier_is_exact():
    document = doc(base_rule(), {"id": "x", "kind": "multiplier", "factor": "1.1"})
    assert earned(document, purchase(1_000_000)) == {"base": 110}  # 100 × 1.1, not 110.00000000000001
    document = doc(base_rule(), {"id": "x", "kind": "multiplier", "factor": "1.5"})
    assert earned(document, purchase(100_000)) == {"base": 15}
    assert earned(document, purchase(300_000)) == {"base": 45}


def test_gold_tier_x3():
    document = doc(base_rule(), tiers=TIERS)
    assert earned(document, purchase(250_000), MemberSnapshot(tier="gold")) == {"base": 60}
    assert earned(document, purchase(250_000), MemberSnapshot(tier="silver")) == {"base": 40}
    assert earned(document, purchase(250_000), MemberSnapshot(tier="bronze")) == {"base": 20}


def test_tier_multiplier_is_for_points_only():
    document = doc(base_rule(currency="coins"), tiers=TIERS)
    assert earned(document, purchase(250_000), MemberSnapshot(tier="gold")) == {"base": 20}


def test_tier_multiplier_applies_to_visits():
    document = doc(DENTIST, tiers=TIERS)
    assert earned(document, visit(), MemberSnapshot(tier="gold")) == {"checkup": 150}


@pytest.mark.parametrize(("mode", "expected"), [
    ("multiply", 120),  # 20 × 2 × 3
    ("add", 80),  # 20 × (1 + 1 + 2)
    ("best", 60),  # 20 × 3
])
def test_multiplier_combination_modes(mode, expected):
    document = doc(base_rule(), COFFEE_X2, tiers=TIERS, settings={"multiplier_combination": mode})
    activity = purchase(None, Line("latte", "coffee", 1, 250_000))
    assert earned(document, activity, MemberSnapshot(tier="gold")) == {"base": expected}


@pytest.mark.parametrize(("mode", "expected"), [("multiply", 60), ("add", 40), ("best", 30)])
def test_multiplier_combination_modes_without_tier(mode, expected):
    # ×2 and ×3 rules on 100,000 (10 points): ×6, ×(1 + 1 + 2) = ×4, ×3.
    document = doc(base_rule(), {"id": "a", "kind": "multiplier", "factor": 2},
                   {"id": "b", "kind": "multiplier", "factor": 3}, settings={"multiplier_combination": mode})
    assert earned(document, purchase(100_000)) == {"base": expected}


def test_combination_only_on_lines_where_both_apply():
    # add mode: coffee lines ×(1+1+2)=×4, cake lines ×3 (tier only).
    document = doc(base_rule(), COFFEE_X2, tiers=TIERS, settings={"multiplier_combination": "add"})
    activity = purchase(None, Line("latte", "coffee", 1, 100_000), Line("cake", "pastry", 1, 100_000))
    assert earned(document, activity, MemberSnapshot(tier="gold")) == {"base": 70}  # 20 × (400+300)/200


def test_multiplier_applies_to_named_rules_only():
    document = doc(base_rule(), {"id": "bonus", "kind": "earn", "per": 100_000, "award": 1},
                   {"id": "x2", "kind": "multiplier", "factor": 2, "applies_to": ["bonus"]})
    assert earned(document, purchase(300_000)) == {"base": 30, "bonus": 6}


def test_multiplier_of_another_currency_does_not_apply():
    document = doc(base_rule(), {"id": "x2", "kind": "multiplier", "factor": 2, "currency": "coins"})
    assert earned(document, purchase(300_000)) == {"base": 30}


def test_multiplier_with_gate_conditions():
    document = doc(base_rule(), {"id": "tuesday", "kind": "multiplier", "factor": 2, "when": {"weekdays": ["tue"]}})
    assert earned(document, purchase(300_000)) == {"base": 60}
    wednesday = dt.datetime(2025, 6, 4, 12, tzinfo=TEHRAN)
    assert earned(document, purchase(300_000, at=wednesday)) == {"base": 30}


def test_line_multiplier_does_not_apply_to_visits():
    document = doc(DENTIST, COFFEE_X2, {"id": "all", "kind": "multiplier", "factor": 3})
    assert earned(document, visit()) == {"checkup": 150}


def test_multiplier_reason_names_it():
    document = doc(base_rule(), COFFEE_X2 | {"name": {"fa": "قهوه دوبل", "en": "Coffee double"}})
    (effect,) = evaluate(document, NEW, purchase(None, Line("latte", "coffee", 1, 200_000)), EN)
    assert effect.amount == 40
    assert effect.reason == "40 points: 10 points per 100,000 Toman spent (on 200,000 Toman); ×2 Coffee double"


def test_multiplier_min_amount_is_a_condition():
    # "All given conditions must hold": a ×2 from 1,000,000 Toman does not double a 250,000 purchase.
    document = doc(base_rule(), {"id": "big", "kind": "multiplier", "factor": 2, "when": {"min_amount": 1_000_000}})
    assert earned(document, purchase(1_000_000)) == {"base": 200}
    assert earned(document, purchase(250_000)) == {"base": 20}


# --- rule order and stop ------------------------------------------------------------------------------


def test_rules_in_document_order():
    document = doc({"id": "b", "kind": "earn", "per": 100_000, "award": 1}, base_rule(),
                   {"id": "c", "kind": "cashback", "percent": 1})
    assert [e.rule_id for e in evaluate(document, NEW, purchase(200_000), EN)] == ["b", "base", "c"]


def test_matching_stop_rule_cuts_later_rules():
    document = doc(base_rule(award=30, when={"branches": ["t1"]}, stop=True),
                   {"id": "later", "kind": "earn", "per": 100_000, "award": 10},
                   {"id": "x2", "kind": "multiplier", "factor": 2},
                   {"id": "cb", "kind": "cashback", "percent": 1})
    assert earned(document, purchase(200_000, branch="t1")) == {"base": 60}
    # At another branch the stop rule does not match, so every later rule counts (and ×2 doubles them).
    assert earned(document, purchase(200_000, branch="v2")) == {"later": 40, "cb": 2_000}


def test_stop_rule_keeps_multipliers_before_it():
    document = doc({"id": "x2", "kind": "multiplier", "factor": 2}, base_rule(stop=True),
                   {"id": "x3", "kind": "multiplier", "factor": 3})
    assert earned(document, purchase(200_000)) == {"base": 40}


def test_stop_rule_on_lines_matches_only_with_its_lines():
    document = doc(base_rule(award=20, when={"categories": ["coffee"]}, stop=True),
                   {"id": "later", "kind": "earn", "per": 100_000, "award": 10})
    assert earned(document, purchase(None, Line("latte", "coffee", 1, 200_000))) == {"base": 40}
    assert earned(document, purchase(None, Line("cake", "pastry", 1, 200_000))) == {"later": 20}


def test_stop_rule_below_its_min_amount_does_not_stop():
    # A stop rule whose min_amount is not reached does not match, so it does not cut the rules after it.
    document = doc({"id": "big", "kind": "earn", "per": 100_000, "award": 100, "stop": True,
                    "when": {"min_amount": 1_000_000}}, base_rule())
    assert earned(document, purchase(1_000_000)) == {"big": 1_000}
    assert earned(document, purchase(250_000)) == {"base": 20}


def test_stop_rule_of_another_activity_does_not_stop():
    document = doc(DENTIST | {"stop": True}, base_rule())
    assert earned(document, purchase(200_000)) == {"base": 20}
    assert earned(document, visit()) == {"checkup": 50}


# --- caps ---------------------------------------------------------------------------------------------


def test_cap_per_purchase():
    document = doc(base_rule(cap={"per_purchase": 100}))
    assert earned(document, purchase(5_000_000)) == {"base": 100}
    assert earned(document, purchase(900_000)) == {"base": 90}
    (effect,) = evaluate(document, NEW, purchase(5_000_000), EN)
    assert effect.reason.endswith("limited by the cap")
    (effect,) = evaluate(document, NEW, purchase(900_000), EN)
    assert "cap" not in effect.reason


def test_cap_per_member_uses_the_period_total():
    document = doc(base_rule(cap={"per_member": 500, "period": "month"}))
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 450})) == {"base": 50}
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 400})) == {"base": 100}
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 500})) == {}
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 650})) == {}
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"other": 500})) == {"base": 100}


def test_both_caps_the_smaller_wins():
    document = doc(base_rule(cap={"per_purchase": 80, "per_member": 500}))
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 300})) == {"base": 80}
    assert earned(document, purchase(1_000_000), MemberSnapshot(period_totals={"base": 470})) == {"base": 30}


def test_cap_applies_after_multipliers():
    document = doc(base_rule(cap={"per_purchase": 100}), tiers=TIERS)
    assert earned(document, purchase(500_000), MemberSnapshot(tier="gold")) == {"base": 100}  # 150 capped


def test_cashback_cap():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10, "cap": {"per_purchase": 50_000}})
    assert earned(document, purchase(2_000_000)) == {"cb": 50_000}


def test_cap_period_start_month_jalali_vs_gregorian():
    moment = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # 1404/03/11 in Tehran
    jalali = cap_period_start("month", moment, FA)
    gregorian = cap_period_start("month", moment, Context(timezone="Asia/Tehran", calendar="gregorian"))
    assert jalali == dt.datetime(2025, 5, 22, 0, 0, tzinfo=TEHRAN)  # 1404/03/01
    assert gregorian == dt.datetime(2025, 6, 1, 0, 0, tzinfo=TEHRAN)


def test_cap_period_start_other_periods():
    moment = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # Sunday
    gregorian = Context(timezone="Asia/Tehran", calendar="gregorian")
    assert cap_period_start("day", moment, FA) == dt.datetime(2025, 6, 1, tzinfo=TEHRAN)
    assert cap_period_start("week", moment, FA) == dt.datetime(2025, 5, 31, tzinfo=TEHRAN)  # Saturday
    assert cap_period_start("week", moment, gregorian) == dt.datetime(2025, 5, 26, tzinfo=TEHRAN)  # Monday
    assert cap_period_start("year", moment, FA) == dt.datetime(2025, 3, 21, tzinfo=TEHRAN)  # 1404/01/01
    assert cap_period_start("year", moment, gregorian) == dt.datetime(2025, 1, 1, tzinfo=TEHRAN)
    assert cap_period_start("ever", moment, FA) is None


def test_cap_period_start_uses_the_local_day():
    # 21:00 UTC on 21 May is 00:30 on 22 May (1404/03/01) in Tehran: already the new Jalali month.
    moment = dt.datetime(2025, 5, 21, 21, 0, tzinfo=UTC)
    assert cap_period_start("month", moment, FA) == dt.datetime(2025, 5, 22, tzinfo=TEHRAN)
    assert cap_period_start("day", moment, FA) == dt.datetime(2025, 5, 22, tzinfo=TEHRAN)
    moment = dt.datetime(2025, 5, 21, 20, 0, tzinfo=UTC)  # 23:30 on 21 May, still 1404/02/31
    assert cap_period_start("month", moment, FA) == dt.datetime(2025, 4, 21, tzinfo=TEHRAN)  # 1404/02/01


# --- F27 cashback -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rounding", "total", "expected"), [
    ("floor", 250_000, 6_250),
    ("floor", 123_460, 3_086),  # 3,086.5
    ("floor", 39, 0),  # 0.975
    ("half_up", 123_460, 3_087),
    ("half_up", 123_439, 3_086),  # 3,085.975
    ("half_up", 123_419, 3_085),  # 3,085.475
    ("ceil", 123_441, 3_087),  # 3,086.025
])
def test_cashback_percent_exact(rounding, total, expected):
    document = doc({"id": "cb", "kind": "cashback", "percent": "2.5", "rounding": rounding})
    assert earned(document, purchase(total)).get("cb", 0) == expected


def test_cashback_effect():
    document = doc({"id": "cb", "kind": "cashback", "percent": "2.5"})
    (effect,) = evaluate(document, NEW, purchase(250_000), EN)
    assert (effect.kind, effect.currency, effect.amount, effect.basis) == ("cashback", "wallet", 6_250, 250_000)
    assert effect.reason == "2.5% cashback on 250,000 Toman"
    (effect,) = evaluate(document, NEW, purchase(250_000), FA)
    assert effect.reason == "۲٫۵٪ بازگشت وجه از ۲۵۰٬۰۰۰ تومان خرید"


def test_cashback_on_categories_and_in_gift_credit():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10, "currency": "gift_credit",
                    "when": {"categories": ["shoes"]}})
    activity = purchase(None, Line("boot", "shoes", 1, 1_200_000), Line("sock", "socks", 3, 300_000))
    (effect,) = evaluate(document, NEW, activity, EN)
    assert (effect.currency, effect.amount, effect.basis) == ("gift_credit", 120_000, 1_200_000)


def test_cashback_only_on_purchases():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10})
    assert earned(document, visit()) == {}
    assert earned(document, Activity("event", NOON, event="x", total=100_000)) == {}


def test_cashback_min_amount_inclusive():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10, "when": {"min_amount": 500_000}})
    assert earned(document, purchase(500_000)) == {"cb": 50_000}
    assert earned(document, purchase(499_999)) == {}


def test_cashback_min_quantity_is_a_condition():
    # "All given conditions must hold": cashback from 3 items does not pay on 1 item.
    document = doc({"id": "cb", "kind": "cashback", "percent": 10, "when": {"min_quantity": 3}})
    assert earned(document, purchase(None, Line("a", "c", 3, 300_000))) == {"cb": 30_000}
    assert earned(document, purchase(None, Line("a", "c", 1, 250_000))) == {}


# --- the earning base ---------------------------------------------------------------------------------


def test_discount_reduces_the_earning_base():
    document = doc(base_rule())
    activity = purchase(300_000, discount=100_000)
    assert earning_base(document, activity) == 200_000
    assert earned(document, activity) == {"base": 20}


def test_credit_paid_reduces_the_base_unless_it_earns():
    activity = purchase(300_000, credit_paid=100_000)
    assert earning_base(doc(base_rule()), activity) == 200_000
    assert earned(doc(base_rule()), activity) == {"base": 20}
    earns = doc(base_rule(), settings={"earn_on_credit_payments": True})
    assert earning_base(earns, activity) == 300_000
    assert earned(earns, activity) == {"base": 30}


def test_discount_and_credit_together_and_never_negative():
    activity = purchase(500_000, discount=100_000, credit_paid=150_000)
    assert earning_base(doc(base_rule()), activity) == 250_000
    assert earned(doc(base_rule()), activity) == {"base": 20}
    assert earning_base(doc(base_rule(), settings={"earn_on_credit_payments": True}), activity) == 400_000
    assert earning_base(doc(base_rule()), purchase(100_000, discount=60_000, credit_paid=60_000)) == 0


def test_earning_base_is_shared_between_lines_in_proportion():
    # 20,000 discount on two equal lines: each line's base is 90,000.
    document = doc({"id": "coffee", "kind": "earn", "per": 10_000, "award": 1, "when": {"categories": ["coffee"]}})
    activity = purchase(None, Line("latte", "coffee", 1, 100_000), Line("cake", "pastry", 1, 100_000),
                        discount=20_000)
    assert earned(document, activity) == {"coffee": 9}


def test_cashback_on_the_earning_base():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10})
    assert earned(document, purchase(300_000, discount=50_000, credit_paid=50_000)) == {"cb": 20_000}


# --- F22 tiers ------------------------------------------------------------------------------------------


def test_member_promotions_from_tier_and_plan():
    document = doc(tiers=TIERS, plans=[{"code": "vip", "name": {"fa": "ویژه", "en": "VIP"}, "price": 100,
                                        "period": "monthly", "discount_percent": "7.5"}])
    (tier,) = member_promotions(document, "gold", None, EN)
    assert (tier.rule_id, tier.percent, tier.label) == ("tier:gold", 5, "5% Gold tier discount")
    tier, plan = member_promotions(document, "gold", "vip", EN)
    assert (plan.rule_id, plan.percent, plan.label) == ("plan:vip", Fraction(15, 2), "7.5% VIP membership discount")
    assert member_promotions(document, "silver", None, EN) == []
    assert member_promotions(document, None, "unknown-plan", EN) == []
    assert member_promotions(doc(), "gold", None, EN) == []


def test_tier_discount_reason_in_persian():
    (tier,) = member_promotions(doc(tiers=TIERS), "gold", None, FA)
    assert tier.label == "۵٪ تخفیف سطح طلایی"


def test_plan_multiplier_joins_the_tier_multiplier():
    document = doc({"id": "base", "kind": "earn", "per": 100, "award": 1}, tiers=TIERS,
                   plans=[{"code": "vip", "name": "VIP", "price": 100, "period": "yearly", "multiplier": 2}])
    silver = MemberSnapshot(tier="silver")  # ×2 from the tier
    (plain,) = evaluate(document, silver, purchase(1_000), EN)
    (vip,) = evaluate(document, MemberSnapshot(tier="silver", plan="vip"), purchase(1_000), EN)
    assert (plain.amount, vip.amount) == (20, 40)
    assert vip.reason.endswith("×2 Silver tier; ×2 VIP membership")


@pytest.mark.parametrize(("metric", "code"), [
    (0, "bronze"), (4_999_999, "bronze"), (5_000_000, "silver"), (19_999_999, "silver"), (20_000_000, "gold"),
    (10**12, "gold"),
])
def test_qualified_tier(metric, code):
    assert qualified_tier(doc(tiers=TIERS), metric).code == code


def test_qualified_tier_without_tiers():
    assert qualified_tier(doc(), 10**9) is None


def test_tier_progress():
    document = doc(tiers=TIERS)
    progress = tier_progress(document, "bronze", 1_200_000)
    assert (progress.current.code, progress.next.code, progress.metric, progress.remaining) == (
        "bronze", "silver", 1_200_000, 3_800_000)
    progress = tier_progress(document, "silver", 7_000_000)
    assert (progress.next.code, progress.remaining) == ("gold", 13_000_000)
    progress = tier_progress(document, "silver", 25_000_000)  # qualified, not yet moved
    assert (progress.next.code, progress.remaining) == ("gold", 0)
    progress = tier_progress(document, "gold", 25_000_000)
    assert (progress.current.code, progress.next, progress.remaining) == ("gold", None, 0)


# --- F19 the loyalty table ------------------------------------------------------------------------------


SEASONAL = {"rates": [
    {"name": {"fa": "نرخ پایه", "en": "Base rate"}, "points": 100, "value": 10_000},
    {"name": {"fa": "فصل پرفروش", "en": "High season"}, "start": "1404/04/01", "end": "1404/06/31",
     "points": 100, "value": 5_000},
]}


@pytest.mark.parametrize(("day", "value"), [
    (dt.date(2025, 6, 21), 10_000),  # 1404/03/31
    (dt.date(2025, 6, 22), 5_000),  # 1404/04/01, first day of the season
    (dt.date(2025, 8, 1), 5_000),
    (dt.date(2025, 9, 22), 5_000),  # 1404/06/31, last day of the season
    (dt.date(2025, 9, 23), 10_000),  # 1404/07/01
])
def test_current_rate_season(day, value):
    assert current_rate(doc(loyalty_table=SEASONAL), day).value == value


def test_current_rate_without_a_default_or_table():
    only_season = {"rates": [SEASONAL["rates"][1]]}
    assert current_rate(doc(loyalty_table=only_season), dt.date(2025, 1, 1)) is None
    assert current_rate(doc(loyalty_table=only_season), dt.date(2025, 7, 1)).value == 5_000
    assert current_rate(doc(), dt.date(2025, 7, 1)) is None


def test_convert_points_whole_steps_only():
    rate = current_rate(doc(loyalty_table=SEASONAL), dt.date(2025, 1, 1))
    assert convert_points(rate, 250) == (200, 20_000)
    assert convert_points(rate, 100) == (100, 10_000)
    assert convert_points(rate, 99) == (0, 0)
    assert convert_points(rate, 0) == (0, 0)
    season = current_rate(doc(loyalty_table=SEASONAL), dt.date(2025, 7, 1))
    assert convert_points(season, 250) == (200, 10_000)


# --- reasons --------------------------------------------------------------------------------------------


def test_every_effect_has_a_reason():
    document = doc(base_rule(), COFFEE_X2, {"id": "cb", "kind": "cashback", "percent": "2.5"}, STAMP, WELCOME,
                   tiers=TIERS)
    activity = purchase(None, Line("latte", "coffee", 1, 250_000), Line("cake", "pastry", 1, 250_000))
    for ctx in (FA, EN):
        effects = evaluate(document, MemberSnapshot(tier="gold", purchase_count=9), activity, ctx)
        assert {e.kind for e in effects} == {"earn", "cashback", "reward"}
        assert all(e.reason.strip() for e in effects)


def test_reason_in_persian_and_english():
    document = doc(base_rule())
    (fa,) = evaluate(document, NEW, purchase(250_000), FA)
    (en,) = evaluate(document, NEW, purchase(250_000), EN)
    assert "۲۰" in fa.reason
    assert "20" not in fa.reason
    assert fa.reason.startswith("۲۰ امتیاز")
    assert en.reason.startswith("20 points")
    assert en.reason == "20 points: 10 points per 100,000 Toman spent (on 250,000 Toman)"


def test_reason_starts_with_the_rule_name():
    document = doc(base_rule(name={"fa": "امتیاز خرید", "en": "Purchase points"}))
    (fa,) = evaluate(document, NEW, purchase(250_000), FA)
    (en,) = evaluate(document, NEW, purchase(250_000), EN)
    assert fa.reason.startswith("امتیاز خرید — ۲۰ امتیاز")
    assert en.reason.startswith("Purchase points — 20 points")


def test_reason_lists_the_tier_multiplier():
    document = doc(base_rule(), tiers=TIERS)
    (effect,) = evaluate(document, MemberSnapshot(tier="gold"), purchase(250_000), EN)
    assert effect.reason.endswith("×3 Gold tier")


def test_wallet_reason_is_money():
    document = doc({"id": "cb", "kind": "cashback", "percent": 10},
                   {"id": "w", "kind": "earn", "currency": "wallet", "per": 100_000, "award": 5_000})
    effects = evaluate(document, NEW, purchase(200_000), EN)
    assert [(e.rule_id, e.amount) for e in effects] == [("cb", 20_000), ("w", 10_000)]
    assert effects[1].reason.startswith("10,000 Toman wallet credit")


# --- the unitemised part of a purchase (other_amount) ---------------------------------------------------


def test_the_unitemised_part_counts_unless_a_rule_leaves_it_out():
    sale = purchase(500_000, Line("A", "coffee", 1, 300_000), Line(quantity=0, amount=200_000, other=True))
    document = doc(base_rule(), base_rule(id="items-only", when={"other_amount": False}),
                   base_rule(id="coffee", when={"categories": ["coffee"]}),
                   {"id": "cb", "kind": "cashback", "percent": 10, "when": {"other_amount": False}})
    assert earned(document, sale) == {"base": 50, "items-only": 30, "coffee": 30, "cb": 30_000}
    assert earning_base(document, sale) == 500_000


def test_a_reward_says_what_it_gives():
    from vafa.program.engine import reward_definition

    document = doc({"id": "card", "kind": "stamp", "every": 2, "reward": {
        "code": "ESP", "gives": "free_item", "sku": "ESP-01", "valid_days": 30, "branches": ["t1"]}},
        {"id": "seq", "kind": "sequence", "steps": [{"code": "MUG"}, {"code": "OFF", "gives": "percent_off",
                                                                          "percent": "12.5"}]})
    espresso = reward_definition(document, "card", "stamp:card:3")
    assert (espresso.gives, espresso.sku, espresso.quantity, espresso.valid_days, espresso.branches) == (
        "free_item", "ESP-01", 1, 30, ["t1"])
    assert reward_definition(document, "seq", "seq:seq:1").gives == "thing"  # a document without `gives`
    assert reward_definition(document, "seq", "seq:seq:2").percent == Fraction(25, 2)
    assert reward_definition(document, "gone", "stamp:gone:1") is None
    for bad in ({"code": "X", "gives": "free_item"}, {"code": "X", "gives": "amount_off"},
                {"code": "X", "gives": "percent_off", "percent": 120}):
        with pytest.raises(ValueError):
            doc({"id": "card", "kind": "stamp", "every": 2, "reward": bad})
