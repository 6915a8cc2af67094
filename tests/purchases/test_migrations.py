"""The data migrations that make the reasons of returns, purchase claims and till sync problems data: the
sentences stored before become codes and parameters (of no known shape: kept whole as legacy_text), and back."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("purchases", "0007_activity_counters"), ("portal", "0001_purchase_claims"),
          ("till", "0002_sync_problem_settling")]
AFTER = [("purchases", "0008_return_reason_codes"), ("portal", "0002_claim_reason_codes"),
         ("till", "0003_sync_problem_reason_codes")]


def _migrate(targets):
    """Every app at its latest but those of `targets`; the models as they were then."""
    executor = MigrationExecutor(connection)
    ours = {app for app, _ in targets}
    targets = [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] not in ours] + targets
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_stored_reasons_become_codes_and_back():
    old = _migrate(BEFORE)
    now = dt.datetime(2025, 3, 21, tzinfo=dt.UTC)
    business = old.get_model("tenancy", "Business").objects.create(name="کافه", slug="cafe", created_at=now,
                                                                   language="en")
    branch = old.get_model("tenancy", "Branch").objects.create(business=business, code="t1", name="T")
    member = old.get_model("members", "Member").objects.create(business=business, mobile="09120000001", code="M1",
                                                               joined_at=now)
    purchase = old.get_model("purchases", "Purchase").objects.create(
        business=business, member=member, branch=branch, receipt="R-1", occurred_at=now, total=100, program_version=1)
    returns = old.get_model("purchases", "Return")
    for text in ("WooCommerce order 1234 cancelled", "WooCommerce refund 56: damaged", "مرجوعی کامل", ""):
        returns.objects.create(business=business, purchase=purchase, amount=1, reason=text, created_at=now)
    old.get_model("portal", "PurchaseClaim").objects.create(business=business, member=member, branch=branch,
                                                            receipt="R-2", amount=1, purchased_on=now.date(),
                                                            reason="رسید پیدا نشد", created_at=now)
    old.get_model("till", "SyncProblem").objects.create(business=business, branch=branch, idempotency_key="k",
                                                        payload={}, reason="حساب این عضو مسدود است",
                                                        code="member_blocked")

    new = _migrate(AFTER)
    assert [(r.reason_code, r.reason_params) for r in new.get_model("purchases", "Return").objects.order_by("id")] == [
        ("legacy_text", {"text": "WooCommerce order 1234 cancelled"}),
        ("legacy_text", {"text": "WooCommerce refund 56: damaged"}),
        ("legacy_text", {"text": "مرجوعی کامل"}),
        ("note", {}),
    ]
    claim = new.get_model("portal", "PurchaseClaim").objects.get()
    assert (claim.reason_code, claim.reason_params) == ("legacy_text", {"text": "رسید پیدا نشد"})
    problem = new.get_model("till", "SyncProblem").objects.get()
    assert (problem.reason_code, problem.reason_params) == ("legacy_text", {"text": "حساب این عضو مسدود است"})

    from vafa.purchases.models import Return  # the current model: worded when read, in either language

    kept = Return.objects.order_by("id").first()
    assert kept.reason_in("en") == kept.reason_in("fa") == "WooCommerce order 1234 cancelled"

    back = _migrate(BEFORE)  # and back: the sentences again, in the business's language
    assert list(back.get_model("purchases", "Return").objects.order_by("id").values_list("reason", flat=True)) == [
        "WooCommerce order 1234 cancelled", "WooCommerce refund 56: damaged", "مرجوعی کامل", ""]
    assert back.get_model("till", "SyncProblem").objects.get().reason == "حساب این عضو مسدود است"
    executor = MigrationExecutor(connection)  # every app at its latest again, for the tests that follow
    executor.migrate(executor.loader.graph.leaf_nodes())
