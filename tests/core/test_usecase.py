"""One way to write (vafa.core.usecase): every use case, whichever channel asks, runs in one transaction with its
idempotency record and exactly one audit row — none for a replay, none for a failure."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from tests.panel.conftest import operator, signed_in  # noqa: F401 — the screens' operators, shared
from tests.woocommerce.test_api import shop, woo  # noqa: F401 — the WooCommerce fixtures, shared

from vafa.access.models import AuditEvent
from vafa.access.services import create_api_key
from vafa.core.actor import Actor
from vafa.core.errors import Conflict
from vafa.core.models import IdempotencyRecord
from vafa.core.usecase import origin, run_use_case
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances
from vafa.members.balances import grant_gift_credit
from vafa.members.models import Member
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Business

CASHIER = Actor("operator", "7", "cashier-1", "10.0.0.9")


def test_a_use_case_writes_one_structured_audit_row(business):
    with origin("api", "POST /api/v1/things"):
        result, replayed = run_use_case(business, "thing.make", {"size": 3, "gift_card": {"code": "G-1", "pin": "99"},
                                                                 "sms_api_key": "k"},
                                        lambda: {"id": 41, "size": 3}, actor=CASHIER, object_type="thing")
    assert (result, replayed) == ({"id": 41, "size": 3}, False)
    event = AuditEvent.objects.get()
    assert (event.business_id, event.channel, event.action, event.operation) == (
        business.pk, "api", "POST /api/v1/things", "thing.make")
    assert (event.object_type, event.object_id, event.status_code) == ("thing", "41", 201)
    assert (event.actor_kind, event.actor_label, event.actor_ip) == ("operator", "cashier-1", "10.0.0.9")
    assert event.params == {"size": 3, "gift_card": "***", "sms_api_key": "***"}  # no secret is kept


def test_without_a_request_the_operation_is_the_action(business):
    run_use_case(business, "thing.make", {}, lambda: {"id": 1}, object_type="thing")
    event = AuditEvent.objects.get()
    assert (event.channel, event.action, event.actor_kind) == ("system", "thing.make", "system")


def test_a_replay_writes_no_second_audit_row(business):
    make = lambda: {"id": 5}  # noqa: E731
    assert run_use_case(business, "thing.make", {"n": 1}, make, key="k-1", object_type="thing") == ({"id": 5}, False)
    assert run_use_case(business, "thing.make", {"n": 1}, make, key="k-1", object_type="thing") == ({"id": 5}, True)
    assert AuditEvent.objects.count() == 1


def test_a_failed_use_case_writes_nothing_and_no_audit_row(business, member):
    def failing():
        Member.objects.filter(pk=member.pk).update(first_name="changed")
        raise Conflict("member_blocked")

    with pytest.raises(Conflict):
        run_use_case(business, "thing.make", {}, failing, key="k-2", object_type="thing")
    assert not AuditEvent.objects.exists() and not IdempotencyRecord.objects.exists()
    assert Member.objects.get(pk=member.pk).first_name != "changed"


def test_a_use_case_inside_another_is_part_of_its_single_row(business):
    def outer():
        inner, _ = run_use_case(business, "inner", {}, lambda: {"id": 2}, object_type="inner")
        return {"id": 1, "inner": inner["id"]}

    run_use_case(business, "outer", {}, outer, object_type="outer")
    assert list(AuditEvent.objects.values_list("operation", "object_id")) == [("outer", "1")]


@pytest.mark.django_db(transaction=True)
def test_the_outermost_transaction_is_durable_and_a_callers_own_is_kept(business):
    def durable() -> dict:
        return {"id": 1, "durable": connection.atomic_blocks[0].durable}

    assert run_use_case(business, "a", {}, durable)[0]["durable"] is True
    with transaction.atomic():  # a caller's (a test's, a job's) transaction: the use case is a savepoint of it
        assert run_use_case(business, "b", {}, durable)[0]["durable"] is False
    assert AuditEvent.objects.count() == 2


# --- the channels: each change, exactly one row ------------------------------------------------------------


def test_an_api_purchase_has_one_row_and_its_receipt_replay_none(business, member):
    _, key = create_api_key(business, scope="write", name="till 1")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.0.0.7")
    body = {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "R-1", "total": 200_000}
    first = client.post("/api/v1/purchases", body, content_type="application/json")
    again = client.post("/api/v1/purchases", body, content_type="application/json")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    event = AuditEvent.objects.get()
    assert (event.channel, event.action, event.operation, event.object_type, event.object_id) == (
        "api", "POST /api/v1/purchases", "purchase", "purchase", str(first.json()["purchase_id"]))
    assert (event.actor_label, event.actor_ip, event.params["receipt"], event.params["total"]) == (
        "till 1", "10.0.0.7", "R-1", 200_000)
    _, admin_key = create_api_key(business, scope="admin")
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {admin_key}").get("/api/v1/audit?object_type=purchase").json()
    assert [(item["channel"], item["operation"], item["params"]["receipt"]) for item in listed["items"]] == [
        ("api", "purchase", "R-1")]


def test_a_refused_api_purchase_writes_no_row(business, member):
    _, key = create_api_key(business, scope="write")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "R-1", "total": 200_000,
            "redeem": {"points": 500}}
    assert client.post("/api/v1/purchases", body, content_type="application/json").status_code == 409  # too few
    assert not AuditEvent.objects.exists() and not Purchase.objects.exists()


def test_a_command_line_import_has_one_row(business, member, tmp_path, monkeypatch):
    from django.db import connections

    from vafa.cli import main

    monkeypatch.setattr(connections, "close_all", lambda: None)  # a command ends by closing them: not the test's
    file = tmp_path / "purchases.csv"
    file.write_text(f"receipt,mobile,branch,occurred_at,total\nX-1,{member.mobile},t1,2024-01-02,150000\n")
    main(["import", "purchases", str(file), "--business", business.slug])
    assert Purchase.objects.filter(receipt="X-1").exists()
    event = AuditEvent.objects.get()
    assert (event.channel, event.action, event.operation, event.params) == (
        "cli", "vafa import purchases", "import.purchases", {"file": str(file)})


def test_a_woocommerce_order_has_one_row_and_its_redelivery_none(shop, member, woo):  # noqa: F811
    assert woo(shop, "order_processing", topic="order.created").status_code == 200
    assert woo(shop, "order_processing", topic="order.created").status_code == 200
    event = AuditEvent.objects.get()
    assert (event.channel, event.operation, event.object_id, event.actor_kind) == (
        "woocommerce", "purchase", str(Purchase.objects.get().pk), "woocommerce")
    assert event.action == f"POST /api/v1/woocommerce/{shop.token}"


def test_a_till_purchase_has_one_row(signed_in, member):  # noqa: F811
    client = signed_in("cashier", branch="t1")
    data = {"receipt": "A1", "total": "۲۰۰۰۰۰", "key": "k-1"}
    client.post(f"/till/t1/m/{member.pk}/purchase", data)
    client.post(f"/till/t1/m/{member.pk}/purchase", data)  # a second Enter: a replay
    event = AuditEvent.objects.get()
    assert (event.channel, event.operation, event.actor_label) == ("till", "purchase", "cashier-t1")
    assert event.action == f"POST /till/t1/m/{member.pk}/purchase"


def test_a_panel_adjustment_has_one_row_from_its_use_case(signed_in, member):  # noqa: F811
    client = signed_in("owner")
    client.post(f"/panel/members/{member.pk}/adjust",
                {"adjust-currency": "points", "adjust-amount": "5", "adjust-reason": "هدیه"})
    event = AuditEvent.objects.get()
    assert (event.channel, event.operation, event.object_type) == ("panel", "adjustment", "entry")
    assert event.object_id == str(Entry.objects.get(kind=Entry.Kind.ADJUST, member=member).pk)
    client.post(f"/panel/members/{member.pk}/adjust",
                {"adjust-currency": "points", "adjust-amount": "-500", "adjust-reason": "خطا"})  # refused
    assert AuditEvent.objects.count() == 1


def test_a_service_called_by_a_job_is_audited_as_the_system(business, member):
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="J-1", total=100_000)
    event = AuditEvent.objects.get()
    assert (event.channel, event.actor_kind, event.operation) == ("system", "system", "purchase")


# --- a group grant interrupted between batches ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_grant_resumes_with_its_key_to_exactly_the_intended_total(business, make_member,
                                                                                 monkeypatch):
    from vafa.ledger import services
    from vafa.members import balances as member_balances

    monkeypatch.setattr(member_balances, "MEMBERS_PER_TRANSACTION", 10)
    members = [make_member() for _ in range(25)]
    ids = [m.pk for m in members]
    real_credit, calls = services.credit_many, []  # one call per member

    def failing_in_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 15:  # the first batch of ten committed; the power goes out in the second
            raise OSError("disk full")
        return real_credit(*args, **kwargs)

    monkeypatch.setattr(services, "credit_many", failing_in_the_second_batch)
    with pytest.raises(OSError):
        grant_gift_credit(business, amount=1_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")
    assert Entry.objects.filter(source="grant").count() == 10  # the first batch only, whole
    with pytest.raises(Conflict):  # another request under the same key is not this grant
        grant_gift_credit(business, amount=2_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")

    monkeypatch.setattr(services, "credit_many", real_credit)
    done = grant_gift_credit(business, amount=1_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")
    assert (done["members"], done["total"], done["replayed"]) == (25, 25_000, False)
    assert [balances(m)["gift_credit"]["available"] for m in members] == [1_000] * 25  # nobody twice
    again = grant_gift_credit(business, amount=1_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")
    assert again["replayed"] and Entry.objects.filter(source="grant").count() == 25
    assert AuditEvent.objects.filter(operation="gift_credit.grant").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_grant_without_a_key_grants_nobody(business, make_member, monkeypatch):
    from vafa.ledger import services
    from vafa.members import balances as member_balances

    monkeypatch.setattr(member_balances, "MEMBERS_PER_TRANSACTION", 10)
    ids = [make_member().pk for _ in range(25)]
    real_credit, calls = services.credit_many, []  # one call per member

    def failing_in_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 22:
            raise OSError("disk full")
        return real_credit(*args, **kwargs)

    monkeypatch.setattr(services, "credit_many", failing_in_the_third_batch)
    with pytest.raises(OSError):
        grant_gift_credit(business, amount=1_000, reason="Nowruz", member_ids=ids)
    assert not Entry.objects.filter(source="grant").exists() and not AuditEvent.objects.exists()


# --- the partner network: no slug's existence told to whom may not see it ---------------------------------


def test_a_partner_slug_answers_the_same_whether_it_exists_or_not(business, other_business):
    for scope in ("read", "write"):  # who may not offer a partnership is told nothing about the slug
        _, key = create_api_key(business, scope=scope)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        known, unknown = client.post("/api/v1/partners/other"), client.post("/api/v1/partners/nowhere")
        assert known.status_code == unknown.status_code == 403
        assert {k: v for k, v in known.json().items() if k != "instance"} == {
            k: v for k, v in unknown.json().items() if k != "instance"}
    assert Business.objects.filter(slug="other").exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize("failure", ["writer", "database"])
def test_a_purchase_whose_audit_row_fails_writes_nothing(business, member, monkeypatch, failure):
    """A purchase's audit row goes in its last write plan, with the rows it records (on PostgreSQL in one
    pipeline): whether the writer fails or the database refuses the row, none of them is written."""
    from tests.api.helpers import counts

    from vafa.core import usecase

    def audit_store_down(**row):
        raise RuntimeError("audit store down")

    def refused(**row):  # a row the database refuses (status_code is a positive column): in the plan, late
        usecase._write_audit_row(**row | {"status_code": -1})

    before = counts()
    with monkeypatch.context() as patched:
        patched.setitem(usecase.AUDIT_ROWS, "create", audit_store_down if failure == "writer" else refused)
        with pytest.raises(RuntimeError if failure == "writer" else IntegrityError):
            record_purchase(business, member_id=member.pk, branch_code="t1", receipt="A-1", total=500_000,
                            idempotency_key="a-1")
    assert counts() == before
    body = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="A-1", total=500_000,
                           idempotency_key="a-1")
    assert not body["replayed"] and AuditEvent.objects.get().object_id == str(body["id"])
