"""Visits and custom events in the load → decide → write shape (purchases.activities): the row written once with
its answer, the balances answered as a read gives them, the statements and the round trips guarded."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.conftest import postgres_only
from tests.purchases.test_query_count import listed, round_trips, traced

from vafa.access.models import AuditEvent
from vafa.core.models import IdempotencyRecord
from vafa.ledger.selectors import balances
from vafa.purchases.activities import ActivityInput, check_in, record_activity, record_event
from vafa.purchases.models import ActivityEvent, IssuedReward, RewardEffect, Visit

PROGRAM = {"settings": {"currencies": {"points": {"expiry_days": 365}}},
           "rules": [{"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
                     {"id": "survey", "kind": "earn", "on": "event", "event": "survey", "basis": "fixed",
                      "award": 7}],
           "tiers": {"basis": "visits", "window_days": 365, "levels": [
               {"code": "bronze", "name": "Bronze", "threshold": 0},
               {"code": "silver", "name": "Silver", "threshold": 3}]}}

# The visit: the lock and the load (2), the row with its answer, the ledger's credit (entry, lot, movement,
# balance: 4), the effect, the counters, the outbox events, the audit row (9), and the test transaction's
# SAVEPOINT and RELEASE: 13 (16 before the write plan). PostgreSQL sends the same in 2 round trips and the 2.
VISIT_STATEMENTS = 13


def test_a_visit_writes_its_row_once_with_its_answer(business, program, member):
    program(PROGRAM)
    check_in(business, member_id=member.pk, branch_code="t1")  # the member's accounts exist from here on
    with CaptureQueriesContext(connection) as queries:
        body = check_in(business, member_id=member.pk, branch_code="t1", note="flu shot", units={"session": 1})
    visit = Visit.objects.get(pk=body["visit_id"])
    assert body["id"] == visit.pk and body["replayed"] is False
    assert visit.result == {name: value for name, value in body.items() if name != "replayed"}
    assert (visit.note, visit.units, visit.branch.code) == ("flu shot", {"session": 1}, "t1")
    assert body["balance"] == balances(member) and body["balance"]["points"]["available"] == 10
    assert RewardEffect.objects.get(visit=visit).amount == 5
    assert not [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "purchases_visit" in q["sql"]]
    assert len(queries) <= VISIT_STATEMENTS, f"{len(queries)} queries:\n{listed(queries)}"


def test_an_event_writes_its_row_once_with_its_answer(business, program, member):
    program(PROGRAM)
    body = record_activity(business, ActivityInput("event", member.pk, name="survey", data={"q": 1}),
                           idempotency_key="ev-1")
    event = ActivityEvent.objects.get(pk=body["event_id"])
    assert (event.name, event.data) == ("survey", {"q": 1})
    assert event.result == {name: value for name, value in body.items() if name != "replayed"}
    assert body["balance"] == balances(member) and body["effects"][0]["amount"] == 7
    again = record_event(business, member_id=member.pk, name="survey", data={"q": 1}, idempotency_key="ev-1")
    assert again == body | {"replayed": True}
    assert ActivityEvent.objects.filter(member=member).count() == 1
    assert AuditEvent.objects.filter(business=business, operation="event", object_id=str(event.pk)).count() == 1
    assert IdempotencyRecord.objects.get(business=business, key="ev-1").response["event_id"] == event.pk


def test_an_event_name_is_matched_as_it_is_stored(business, program, member):
    """Spaces around the name are trimmed before the rules see it, as the row stores it: the event earns."""
    program(PROGRAM)
    body = record_event(business, member_id=member.pk, name="  survey ")
    assert ActivityEvent.objects.get(pk=body["event_id"]).name == "survey"
    assert [(e["rule_id"], e["amount"]) for e in body["effects"]] == [("survey", 7)]


def test_a_visit_that_issues_a_reward_and_a_tier(business, program, member):
    """The rare parts: a reward issued refers to the visit (its row written first, its answer by an UPDATE), and
    the third visit takes the member to silver."""
    program(PROGRAM | {"rules": [*PROGRAM["rules"], {"id": "card", "kind": "stamp", "every": 3, "counts": "visit",
                                                     "reward": {"code": "FREE", "name": "Free session"}}]})
    at = timezone.now() - dt.timedelta(hours=1)
    for minutes in range(2):
        check_in(business, member_id=member.pk, occurred_at=at + dt.timedelta(minutes=minutes))
    body = check_in(business, member_id=member.pk, occurred_at=at + dt.timedelta(minutes=2))
    visit = Visit.objects.get(pk=body["visit_id"])
    assert visit.result == {name: value for name, value in body.items() if name != "replayed"}
    assert IssuedReward.objects.get(member=member).visit_id == visit.pk
    assert body["tier"] == "silver" and body["balance"] == balances(member, visit.occurred_at)
    assert [e["kind"] for e in body["effects"]] == ["earn", "reward"]


@postgres_only
def test_visit_round_trips(business, program, member, tmp_path):
    """The member's lock and the load in one pipeline, the plan with the audit row in another, and the test
    transaction's SAVEPOINT and RELEASE."""
    program(PROGRAM)
    body, text = traced(tmp_path, lambda name: check_in(business, member_id=member.pk, branch_code="t1", note=name))
    assert body["effects"], body
    assert round_trips(text) <= 4, text
