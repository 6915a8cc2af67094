"""The backtest on a hand-made history with a known answer: doubling the coffee rate doubles exactly the coffee
purchases' points; a purchase before the window is not replayed; nothing is written."""

import datetime as dt

import pytest
from django.utils import timezone

from vafa.ledger.models import Entry
from vafa.panel import backtest
from vafa.program.engine import Context
from vafa.program.services import activate_program, validate_program
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase

pytestmark = pytest.mark.django_db

RATES = {"loyalty_table": {"rates": [{"points": 100, "value": 10_000}]}}


def program(coffee_award: int) -> dict:
    return {"rules": [
        {"id": "coffee", "kind": "earn", "per": 100_000, "award": coffee_award, "when": {"categories": ["coffee"]}},
        {"id": "food", "kind": "earn", "per": 100_000, "award": 10, "when": {"categories": ["food"]}}], **RATES}


def buy(business, member, receipt: str, coffee: int = 0, food: int = 0):
    lines = [{"sku": s, "name": s, "category": s, "quantity": 1, "unit_price": amount}
             for s, amount in (("coffee", coffee), ("food", food)) if amount]
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=coffee + food,
                           lines=lines)


def test_doubling_a_category_doubles_exactly_those_points(business, make_member):
    activate_program(business, program(10))
    first, second, third = make_member(), make_member(), make_member()
    buy(business, first, "P1", coffee=300_000, food=200_000)
    buy(business, second, "P2", coffee=100_000)
    buy(business, third, "P3", food=400_000)
    buy(business, first, "OLD", coffee=1_000_000)
    Purchase.objects.filter(receipt="OLD").update(occurred_at=timezone.now() - dt.timedelta(days=100))
    entries = Entry.objects.count()

    state, result = backtest.run(business, validate_program(program(10)), validate_program(program(20)), Context(),
                                 days=90)

    assert (state.total, state.done, state.finished) == (3, 3, True)
    assert result.currencies == [("points", 100, 140)]
    assert result.cost == (10_000, 14_000)
    assert result.most_affected == [(first.pk, 5_000, 8_000), (second.pk, 1_000, 2_000)]
    assert Entry.objects.count() == entries


def test_the_replay_in_chunks_equals_the_replay_at_once(business, make_member):
    activate_program(business, program(10))
    for n in range(5):
        buy(business, make_member(), f"R{n}", coffee=100_000 * (n + 1))
    active, draft = validate_program(program(10)), validate_program(program(30))
    state = backtest.start(business, 90)
    steps = 0
    while not state.finished:
        backtest.advance(state, business, active, draft, Context(), chunk=2, workers=1)
        steps += 1
    assert steps == 3 and state.done == 5
    assert (state.active.issued["points"], state.draft.issued["points"]) == (150, 450)


def test_a_chunk_is_whole_members(business, make_member):
    activate_program(business, program(10))
    member = make_member()
    for n in range(3):
        buy(business, member, f"M{n}", coffee=100_000)
    active, draft = validate_program(program(10)), validate_program(program(20))
    state = backtest.start(business, 90)
    backtest.advance(state, business, active, draft, Context(), chunk=1, workers=1)
    assert (state.done, state.cursor, state.draft.issued["points"]) == (3, member.pk, 60)
    backtest.advance(state, business, active, draft, Context(), chunk=1, workers=1)
    assert (state.done, state.finished, state.draft.issued["points"]) == (3, True, 60)


# A program whose snapshots carry everything: counts (first purchase, stamps), issued reward keys, a monthly
# per-member cap, the tier's multiplier.
RICH = {"rules": [
    {"id": "base", "kind": "earn", "per": 100_000, "award": 10},
    {"id": "coffee", "kind": "earn", "per": 100_000, "award": 7, "when": {"categories": ["coffee"]},
     "cap": {"per_member": 25, "period": "month"}},
    {"id": "welcome", "kind": "earn", "basis": "fixed", "award": 50, "when": {"first_purchase": True}},
    {"id": "card", "kind": "stamp", "every": 2, "reward": {"code": "free_coffee", "name": "Free coffee"}}],
    "tiers": {"basis": "spend", "levels": [{"code": "bronze", "name": "Bronze", "threshold": 0},
                                          {"code": "gold", "name": "Gold", "threshold": 1_000_000,
                                           "multiplier": 2}]}, **RATES}


def rich_history(business, make_member) -> None:
    from vafa.members.models import Member

    activate_program(business, RICH)
    for m in range(6):
        member = make_member()
        for n in range(m % 3 + 1):
            buy(business, member, f"H{m}-{n}", coffee=100_000 * (m + n + 1), food=50_000 * n)
        if m % 2:
            Member.objects.filter(pk=member.pk).update(tier="gold")


def replayed(business, chunk: int, workers: int) -> tuple:
    draft = {**RICH, "rules": [{**RICH["rules"][1], "award": 14}, *RICH["rules"][:1], *RICH["rules"][2:]]}
    state = backtest.start(business, 90)
    while not state.finished:
        backtest.advance(state, business, validate_program(RICH), validate_program(draft), Context(), chunk=chunk,
                         workers=workers)
    return state.done, state.active, state.draft, state.affected


# Committed data: the worker processes read through their own connections.
@pytest.mark.django_db(transaction=True)
def test_two_processes_give_the_figures_of_one(business, make_member):
    rich_history(business, make_member)
    at_once = replayed(business, chunk=1_000, workers=1)
    assert at_once[0] == 12 and at_once[1].rewards == 4 and at_once[1].issued["points"] > 0
    assert at_once[1] != at_once[2] and at_once[3]
    assert replayed(business, chunk=12, workers=2) == at_once  # one chunk, two processes
    assert replayed(business, chunk=4, workers=2) == at_once  # three chunks of two processes each
    assert replayed(business, chunk=1, workers=1) == at_once  # member by member
