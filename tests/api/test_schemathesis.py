"""Property-based tests of the whole API against its own OpenAPI document (schemathesis 4).

Each operation runs a bounded number of generated requests (valid and invalid) with an admin key of a business
that has members, cards, purchases and a ledger; about half the generated member/purchase ids are pointed at real
rows so that success responses are exercised too. Checks: no 5xx, every documented response matches its schema,
and every status code answered is documented."""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from vafa.access.services import create_api_key
from vafa.members.balances import adjust
from vafa.members.services import CardIssue, issue_card, sign_up
from vafa.program.services import activate_program
from vafa.purchases.services import record_purchase, return_purchase
from vafa.tenancy.services import create_branch, create_business

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
# The coverage phase sends every boundary case the schema defines (≈280 requests for POST /purchases alone);
# set VAFA_SCHEMATHESIS_COVERAGE=1 for that deeper run. By default each operation gets the explicit examples
# and a bounded number of generated requests.
schema.config.phases.coverage.enabled = os.environ.get("VAFA_SCHEMATHESIS_COVERAGE") == "1"

# Bounded: 25 generated requests per operation, no shrinking (a failure is reported as found), no deadline.
BOUNDED = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))

PROGRAM = {
    "settings": {"currencies": {"points": {"expiry_days": 20}, "wallet": {"expiry_days": 180, "pending_days": 14}}},
    "rules": [
        {"id": "base", "kind": "earn", "per": 100_000, "award": 10},
        {"id": "cb", "kind": "cashback", "percent": 2},
        {"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
        {"id": "survey", "kind": "earn", "on": "event", "event": "survey_completed", "basis": "fixed", "award": 50},
    ],
    "tiers": {"basis": "spend", "window_days": 365, "levels": [
        {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
        {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 5_000_000, "multiplier": 2},
    ]},
    "loyalty_table": {"rates": [{"points": 100, "value": 10_000}]},
}


class World:
    """The rows the generated requests are aimed at."""

    key: str
    member_id: int
    purchase_id: int


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """A business with branches (the OpenAPI example "tajrish" among them), members, cards, purchases, a return
    and adjustments, committed once for the module and flushed after it."""
    made = World()
    with django_db_blocker.unblock():
        business = create_business(name="کافه آزمون", slug="schemathesis")
        for code in ("tajrish", "t1"):
            create_branch(business, code=code, name=code)
        activate_program(business, PROGRAM)
        first = sign_up(business, mobile="09121234567", first_name="علی", last_name="رضایی")  # the example phone
        others = [sign_up(business, mobile=f"0912000{i:04d}", first_name=f"عضو {i}") for i in range(3)]
        for member in (first, *others):
            issue_card(business, CardIssue.check(member.pk))
        adjust(business, first.pk, "points", 2_000, reason="seed")
        adjust(business, first.pk, "wallet", 50_000, reason="seed")
        purchases = [
            record_purchase(business, member_id=first.pk, branch_code="tajrish", receipt=f"S-{i}",
                            total=(i + 1) * 700_000, redeem_points=100 if i == 0 else 0,
                            lines=[{"sku": "ESP-01", "name": "اسپرسو", "quantity": 1, "unit_price": 300_000},
                                   {"sku": "CAKE", "quantity": 2, "unit_price": (i + 1) * 350_000 - 150_000}])
            for i in range(3)]
        return_purchase(business, purchases[1]["purchase_id"], amount=100_000)
        made.member_id = first.pk
        made.purchase_id = purchases[0]["purchase_id"]
        made.key = create_api_key(business, scope="admin", name="schemathesis")[1]
    yield made
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def in_process_requests():
    """Requests go through the real WSGI handler, which closes "old" connections at each request's start and end;
    inside a test's transaction that would drop it. Django's own test client disconnects the same handlers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def aim(case, world: World) -> None:
    """Point even generated ids at real rows, so both 404s and successes are exercised."""
    for name, real in (("member_id", world.member_id), ("purchase_id", world.purchase_id)):
        value = case.path_parameters.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value % 2 == 0:
            case.path_parameters[name] = real
    body = case.body if isinstance(case.body, dict) else {}
    ref = body.get("member")
    if isinstance(ref, dict) and isinstance(ref.get("member_id"), int) and ref["member_id"] % 2 == 0:
        ref["member_id"] = world.member_id
    if isinstance(body.get("member_id"), int) and not isinstance(body["member_id"], bool) and body["member_id"] % 2 == 0:
        body["member_id"] = world.member_id


@pytest.mark.django_db
@schema.parametrize()
@BOUNDED
def test_no_server_errors_and_responses_match_their_schemas(case, world, in_process_requests):
    aim(case, world)
    case.call_and_validate(headers={"Authorization": f"Bearer {world.key}"},
                           checks=[checks.not_a_server_error, checks.response_schema_conformance])


@pytest.mark.django_db
@schema.parametrize()
@BOUNDED
def test_every_status_code_answered_is_documented(case, world, in_process_requests):
    aim(case, world)
    case.call_and_validate(headers={"Authorization": f"Bearer {world.key}"}, checks=[checks.status_code_conformance])
