"""The move onto Citus (vafa.core.sharding, `vafa citus plan`): its key changes run on plain PostgreSQL, and
Vafa's hot path and ledger keep working on the composite keys, which also refuse a row that points at another
business's row. The Citus calls themselves need a Citus cluster (docs/scaling.md, "Left to do")."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from tests.conftest import postgres_only

from vafa.core.sharding import citus_plan, distributed_tables, key_statements
from vafa.ledger.check import check_ledger
from vafa.members.models import Card
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase
from vafa.vouchers.services import create_code, create_definition

LINES = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000},
         {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 120_000}]


@postgres_only
@pytest.mark.django_db
def test_the_plan_moves_every_table_once():
    plan = citus_plan(connection)
    distributed = [line for line in plan if line.startswith("SELECT create_distributed_table")]
    assert len(distributed) == len(distributed_tables())
    assert distributed[0] == "SELECT create_distributed_table('members_member', 'business_id');"
    assert "SELECT create_reference_table('tenancy_business');" in plan
    assert plan.index("SELECT create_reference_table('tenancy_business');") < plan.index(
        "SELECT create_reference_table('tenancy_branch');")
    assert not any("access_loginattempt" in line or "jobs_jobrun" in line for line in plan)
    primary_keys = [line for line in plan if "ADD PRIMARY KEY (business_id, id)" in line]
    assert len(primary_keys) == len(distributed_tables())


@postgres_only
def test_the_hot_path_and_the_ledger_hold_on_composite_keys(business, other_business, member, program):
    """Primary keys (business_id, id) and foreign keys (business_id, <column>) → (business_id, id) applied to
    the test database (rolled back with the test): a purchase with a code and wallet credit, a return and a
    cancellation write as before, the ledger check passes, and a card of one business for another business's
    member is refused."""
    before, after = key_statements(connection)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixtures' pending checks first: ALTER waits for none
        for statement in before + after:
            cursor.execute(statement)
        constraints = connection.introspection.get_constraints(cursor, "ledger_entry")
    assert [info["columns"] for info in constraints.values() if info["primary_key"]] == [["business_id", "id"]]
    assert ["business_id", "member_id"] in [info["columns"] for info in constraints.values() if info["foreign_key"]]

    program({"settings": {"currencies": {"wallet": {"expiry_days": 90}}},
             "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                       {"id": "cashback", "kind": "cashback", "percent": "5"}]})
    create_code(create_definition(business, name="10%", kind="percent", percent="10"), "TEN")
    first = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="C-1", total=320_000,
                            lines=LINES)
    second = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="C-2", total=320_000,
                             lines=LINES, codes=["TEN"], redeem_wallet=10_000)
    assert second["wallet_redeemed"] == 10_000 and second["discount"] == 32_000, second
    return_purchase(business, second["purchase_id"], amount=100_000)
    cancel_purchase(business, first["purchase_id"])
    assert check_ledger() == []

    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.create(business=other_business, member=member, number="6037990000000001",
                            issued_at=member.joined_at)


def test_the_plan_needs_postgresql(db):
    if connection.vendor == "postgresql":
        out = io.StringIO()
        call_command("citus", "plan", stdout=out)
        assert "SELECT create_distributed_table('ledger_entry', 'business_id'" in out.getvalue()
    else:
        with pytest.raises(CommandError, match="Citus is PostgreSQL"):
            call_command("citus", "plan")
