"""The data migration 'reason_codes': sentences stored before reasons were data become codes and parameters."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("ledger", "0003_alter_account_kind"), ("purchases", "0005_rewards_held_and_payment_fields")]
AFTER = [("ledger", "0004_reason_codes"), ("purchases", "0006_reason_codes")]


def _migrate(targets):
    """Every app at its latest but ledger and purchases, which are at `targets`; the models as they were then."""
    executor = MigrationExecutor(connection)
    ours = {app for app, _ in targets}
    targets = [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] not in ours] + targets
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_sentences_become_codes():
    old = _migrate(BEFORE)
    now = dt.datetime(2025, 3, 21, tzinfo=dt.UTC)
    business = old.get_model("tenancy", "Business").objects.create(name="کافه", slug="cafe", created_at=now)
    member = old.get_model("members", "Member").objects.create(business=business, mobile="09120000001", code="M1",
                                                               joined_at=now)
    account = old.get_model("ledger", "Account")
    mine = account.objects.create(business=business, member=member, currency="points", kind="available", code="m")
    theirs = account.objects.create(business=business, currency="points", kind="issued", code="b")
    entry = old.get_model("ledger", "Entry")
    sentences = {
        "expire": "۱,۵۰۰ امتیاز منقضی شد",  # a Latin separator inside Persian: the old bug
        "spend": "paid 20 points on receipt R-7",
        "adjust": "پرداخت 20 امتیاز برای رسید R-7",  # typed by a person: a note, never parsed
        "earn": "امتیاز خرید — ۲۰ امتیاز: ۱۰ امتیاز به ازای هر ۱۰۰٬۰۰۰ تومان خرید (مبنا ۲۵۰٬۰۰۰ تومان)",
    }
    for kind, sentence in sentences.items():
        entry.objects.create(business=business, member=member, kind=kind, currency="points", amount=1, debit=theirs,
                             credit=mine, reason=sentence, created_at=now)
    old.get_model("purchases", "IssuedReward").objects.create(
        business=business, member=member, rule_id="stamps", key="stamp:stamps:10", reward_code="MEAL",
        name="Free meal", reason="reward revoked: a counted purchase was reversed", issued_at=now)

    new = _migrate(AFTER)
    rows = {e.kind: (e.reason_code, e.reason_params) for e in new.get_model("ledger", "Entry").objects.all()}
    assert rows == {
        "expire": ("ledger.expire", {"amount": 1_500, "currency": "points"}),
        "spend": ("purchase.paid", {"amount": 20, "currency": "points", "receipt": "R-7"}),
        "adjust": ("note", {"text": "پرداخت 20 امتیاز برای رسید R-7"}),
        "earn": ("legacy_text", {"text": sentences["earn"]}),
    }
    reward = new.get_model("purchases", "IssuedReward").objects.get()
    assert (reward.reason_code, reward.reason_params) == ("reward.revoked", {})

    from vafa.ledger.models import Entry  # the current model: worded when read, in either language

    expired = Entry.objects.get(kind="expire")
    assert (expired.reason_in("fa"), expired.reason_in("en")) == ("۱٬۵۰۰ امتیاز منقضی شد", "1,500 points expired")

    back = _migrate(BEFORE)  # and back: the sentences again, worded in the business's language
    texts = dict(back.get_model("ledger", "Entry").objects.values_list("kind", "reason"))
    assert texts["expire"] == "۱٬۵۰۰ امتیاز منقضی شد" and texts["earn"] == sentences["earn"]
    executor = MigrationExecutor(connection)  # every app at its latest again, for the tests that follow
    executor.migrate(executor.loader.graph.leaf_nodes())
