"""What one API request costs in statements once its key is known to the process (issue 11): the key's lookup
and the rate counter's lease are not paid per request, the business is kept per process (tenancy.cache), the
balance read is two statements, and a voucher validation is two and writes nothing without a reservation."""

import dataclasses

from django.db import connection
from django.utils import timezone
from tests.api.helpers import purchase_body

from vafa.program import cache as program_cache
from vafa.purchases import counters

BALANCE_LIMIT = 1  # the member with the business's token, the balances and the tier metric (members.selectors)
VALIDATE_LIMIT = 2  # the member with the business's token, the code with its definition and the guessing count
WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN", "SAVEPOINT", "COMMIT")
ITEMS = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000}]


def statements(call) -> tuple[object, list[str]]:
    """Every statement the request sends, whatever Django's query log does when a request starts."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = call()
    return response, seen


def test_the_balance_read_costs_one_statement(reader, member):
    path = f"/members/{member.pk}/balance"
    assert reader.get(path).status_code == 200  # the key, its lease and the program kept from now on
    response, sent = statements(lambda: reader.get(path))
    assert response.status_code == 200, response.content
    assert len(sent) <= BALANCE_LIMIT, "\n".join(sent)
    assert not [sql for sql in sent if sql.lstrip().upper().startswith(WRITES)]


def test_a_voucher_validation_writes_nothing(admin, writer, member):
    assert admin.post("/vouchers", {"name": "ten", "kind": "percent", "percent": 10, "code": "TEN"}).status_code == 201
    body = {"code": "TEN", "member_id": member.pk, "branch": "t1", "items": ITEMS}
    assert writer.post("/vouchers/validate", body).json()["valid"]
    response, sent = statements(lambda: writer.post("/vouchers/validate", body))
    assert response.status_code == 200 and response.json()["discount"] == 20_000, response.content
    assert len(sent) <= VALIDATE_LIMIT, "\n".join(sent)
    assert not [sql for sql in sent if sql.lstrip().upper().startswith(WRITES)]


def test_the_tier_metric_in_the_one_statement_is_the_counters_own_and_follows_a_program_changed_elsewhere(
        business, writer, reader, member):
    for receipt, total in (("R-1", 250_000), ("R-2", 120_000)):
        assert writer.post("/purchases", purchase_body(member, receipt, total)).status_code == 201
    path = f"/members/{member.pk}/balance"
    document = program_cache.setup_of(business).document
    assert reader.get(path).json()["tier"]["metric"] == counters.tier_metric(member, document, timezone.now()) > 0
    # this process holds a stale program (visits over a day): the token read beside the row has it read again
    held = program_cache.held(business.pk)
    stale = held.document.model_copy(update={"tiers": held.document.tiers.model_copy(
        update={"basis": "visits", "window_days": 1})})
    program_cache._setups[business.pk] = dataclasses.replace(held, token=held.token + 1, document=stale)
    assert reader.get(path).json()["tier"]["metric"] == counters.tier_metric(member, document, timezone.now())
    assert program_cache.held(business.pk).document == document
