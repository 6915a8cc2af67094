"""The purchase hot path's query count, guarded: a typical purchase (a member with a tier, a program with a
few rules) may not take more queries than it does today. Lower the limits when the path gets cheaper; the
benchmark (bench/run, docs/benchmarks.md) shows what each query costs."""

import json
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.conftest import postgres_only

from vafa.access.services import create_api_key
from vafa.purchases.services import record_purchase

SERVICE_LIMIT = 14  # 11 statements (8 on PostgreSQL) + the audit row + the test transaction's SAVEPOINT and RELEASE
HTTP_LIMIT = 20  # + the rate counter's upsert (one per request, shared by every worker: issue 10)

RULES = {
    "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 14}, "wallet": {"expiry_days": 90}}},
    "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
              {"id": "coffee-x2", "kind": "multiplier", "factor": 2, "applies_to": ["base"],
               "when": {"categories": ["coffee"]}},
              {"id": "cashback", "kind": "cashback", "percent": "2", "cap": {"per_member": 500_000, "period": "month"}}],
    "tiers": {"basis": "spend", "window_days": 365, "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 5_000_000, "multiplier": 2}]},
}
LINES = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000},
         {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 120_000}]


@pytest.fixture
def regular(business, program, member):
    program(RULES)
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="WARM-1", total=320_000, lines=LINES)
    return member


def listed(queries) -> str:
    return "\n".join(f"{i + 1}. {q['sql'][:300]}" for i, q in enumerate(queries))


def test_record_purchase_query_count(business, regular):
    with CaptureQueriesContext(connection) as queries:
        body = record_purchase(business, member_id=regular.pk, branch_code="t1", receipt="Q-1", total=320_000,
                               lines=LINES)
    assert body["effects"], body
    assert len(queries) <= SERVICE_LIMIT, f"{len(queries)} queries:\n{listed(queries)}"


def test_post_purchase_query_count(business, regular, client):
    _, key = create_api_key(business, scope="write", name="count")
    payload = {"member": {"member_id": regular.pk}, "branch": "t1", "receipt": "Q-2", "total": 320_000,
               "items": LINES}
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/purchases", data=json.dumps(payload), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 201, response.content
    assert len(queries) <= HTTP_LIMIT, f"{len(queries)} queries:\n{listed(queries)}"


# returns and cancellations in the load → decide → write shape (purchases.reversals): the purchase's member, then
# the lock and 4 reads (one round trip on PostgreSQL), then one write plan with the audit row (one round trip on
# PostgreSQL: 10 statements, 11 on SQLite, whose ledger draft is one statement a table), and the savepoint's two;
# a cancellation reads nothing more unless the purchase used codes or rewards (the load says whether)
RETURN_LIMIT = 18
CANCEL_LIMIT = 18


def test_return_and_cancel_query_counts(business, regular):
    from vafa.purchases.services import cancel_purchase, return_purchase

    bought = [record_purchase(business, member_id=regular.pk, branch_code="t1", receipt=f"R-{i}", total=320_000,
                              lines=LINES)["purchase_id"] for i in range(2)]
    with CaptureQueriesContext(connection) as returned:
        return_purchase(business, bought[0], amount=100_000)
    with CaptureQueriesContext(connection) as cancelled:
        cancel_purchase(business, bought[1])
    assert len(returned) <= RETURN_LIMIT, f"{len(returned)} queries:\n{listed(returned)}"
    assert len(cancelled) <= CANCEL_LIMIT, f"{len(cancelled)} queries:\n{listed(cancelled)}"


# visits and events: the member's lock with the program's cache token, the counters, the accounts; then the row,
# the ledger's credit (entry, lot, movement, balance), the effect, the counters, the balances read back, the row's
# answer, the outbox events in one insert, the audit row and the savepoint's two
VISIT_LIMIT = 16
EVENT_LIMIT = 16


def test_visit_and_event_query_counts(business, program, member):
    from vafa.purchases.activities import check_in, record_event

    program({"settings": {"currencies": {"points": {"expiry_days": 365}}},
             "rules": [{"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
                       {"id": "survey", "kind": "earn", "on": "event", "event": "survey", "basis": "fixed",
                        "award": 7}]})
    check_in(business, member_id=member.pk, branch_code="t1")  # the member's accounts exist from here on
    with CaptureQueriesContext(connection) as visited:
        assert check_in(business, member_id=member.pk, branch_code="t1")["effects"]
    with CaptureQueriesContext(connection) as recorded:
        assert record_event(business, member_id=member.pk, name="survey")["effects"]
    assert len(visited) <= VISIT_LIMIT, f"{len(visited)} queries:\n{listed(visited)}"
    assert len(recorded) <= EVENT_LIMIT, f"{len(recorded)} queries:\n{listed(recorded)}"


# round trips between Vafa and PostgreSQL, counted on the wire (libpq's trace of the frontend's messages): each
# Sync (the extended protocol's end of a batch: one per statement, one per pipeline) and each simple Query is
# one wait for the server. The purchase: the lock, the load, the write plan in one pipeline, the audit row, and
# the test transaction's SAVEPOINT and RELEASE (BEGIN and COMMIT outside a test). Issue 11's target: 6 at most.
ROUND_TRIP_LIMIT = 4


def round_trips(trace: str) -> int:
    return sum(1 for line in trace.splitlines()
               if "\tF\t" in line and line.split("\t")[3].split(" ")[0] in ("Sync", "Query"))


def traced(tmp_path, buy: Callable[[str], dict]) -> tuple[dict, str]:
    """`buy(name)` traced on the wire, in steady state: three times before it untraced, so that the connection's
    statements are prepared (settings: prepare_threshold=2: psycopg prepares a statement at its third execution,
    in a round trip of its own), as on a server whose connections live for minutes.
    Answers its result and the trace."""
    for n in range(3):
        buy(f"warm-{n}")
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    path = tmp_path / "trace"
    with path.open("w") as trace:
        pgconn.trace(trace.fileno())
        try:
            body = buy("traced")
        finally:
            pgconn.untrace()
    return body, path.read_text()


@postgres_only
def test_record_purchase_round_trips(business, regular, tmp_path):
    body, text = traced(tmp_path, lambda name: record_purchase(
        business, member_id=regular.pk, branch_code="t1", receipt=f"T-{name}", total=320_000, lines=LINES))
    assert body["effects"], body
    assert round_trips(text) <= ROUND_TRIP_LIMIT, text


# with an idempotency key: the SAVEPOINT, the key's claim (one INSERT ... ON CONFLICT DO NOTHING: what makes a
# concurrent duplicate wait) sent with the lock and the load (core.sql.first_statement), the plan with the audit
# row and the key's stored answer (core.usecase.write_last), RELEASE: the same 4 as without a key
KEYED_ROUND_TRIP_LIMIT = 4


@postgres_only
def test_keyed_purchase_round_trips(business, regular, tmp_path):
    from vafa.access.models import AuditEvent
    from vafa.core.models import IdempotencyRecord

    body, text = traced(tmp_path, lambda name: record_purchase(
        business, member_id=regular.pk, branch_code="t1", receipt=f"K-{name}", total=320_000, lines=LINES,
        idempotency_key=f"k-{name}"))
    assert IdempotencyRecord.objects.get(business=business, key="k-traced").response == body
    assert AuditEvent.objects.filter(business=business, operation="purchase", object_id=str(body["id"])).exists()
    assert round_trips(text) <= KEYED_ROUND_TRIP_LIMIT, text


def test_stamp_programs_read_the_rewards_held_in_the_load(business, program, member):
    """A program with stamps reads the keys of the rewards the member holds in the load's one statement, not in
    a query of its own; the stamp still counts the rewards already issued."""
    program({"settings": {"currencies": {"points": {"expiry_days": 365}}},
             "rules": [{"id": "card", "kind": "stamp", "every": 1, "reward": {"code": "FREE", "name": "Free"}}]})
    first = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="S-1", total=100_000)
    with CaptureQueriesContext(connection) as queries:
        second = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="S-2", total=100_000)
    assert [e["kind"] for e in first["effects"]] == ["reward"] == [e["kind"] for e in second["effects"]]
    reads = [q["sql"] for q in queries if "purchases_issuedreward" in q["sql"] and q["sql"].startswith("SELECT")]
    assert len(reads) == 1 and "UNION ALL" in reads[0], listed(queries)


# a return and a cancellation (purchases.reversals), on the wire: the purchase's member read before the lock, the
# SAVEPOINT, the lock with every read the decision needs (one read_all), the plan with the audit row and the
# key's answer (write_last), the RELEASE
RETURN_ROUND_TRIP_LIMIT = 5
CANCEL_ROUND_TRIP_LIMIT = 5


@postgres_only
def test_return_and_cancel_round_trips(business, regular, tmp_path):
    from vafa.purchases.services import cancel_purchase, return_purchase

    bought = iter([record_purchase(business, member_id=regular.pk, branch_code="t1", receipt=f"RT-{i}",
                                   total=320_000, lines=LINES)["purchase_id"] for i in range(8)])
    returned, return_text = traced(tmp_path, lambda name: return_purchase(business, next(bought), amount=100_000))
    cancelled, cancel_text = traced(tmp_path, lambda name: cancel_purchase(business, next(bought)))
    assert returned["reversed"] and cancelled["reversed"], (returned, cancelled)
    assert round_trips(return_text) <= RETURN_ROUND_TRIP_LIMIT, return_text
    assert round_trips(cancel_text) <= CANCEL_ROUND_TRIP_LIMIT, cancel_text
