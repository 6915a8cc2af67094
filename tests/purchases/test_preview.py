"""A dry run is the purchase's decide step alone: it writes nothing, takes no lock, opens no transaction, and the
plan it shows is exactly what the real purchase then writes — for random programs, histories and baskets."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vafa.core.errors import VafaError
from vafa.ledger.models import Entry
from vafa.members.services import sign_up
from vafa.outbox.models import OutboxEvent
from vafa.program.services import activate_program
from vafa.purchases.models import Purchase, RewardEffect
from vafa.purchases.services import record_purchase

PER_PURCHASE = ("id", "purchase_id", "receipt", "branch", "status", "replayed", "dry_run")
phones = itertools.count(1_000_000)
receipts = itertools.count(1)


@st.composite
def programs(draw) -> dict:
    rules: list[dict] = [{"id": "base", "kind": "earn", "per": draw(st.sampled_from([10_000, 100_000])),
                          "award": draw(st.integers(1, 20))}]
    if draw(st.booleans()):
        rules.append({"id": "coffee", "kind": "multiplier", "factor": draw(st.integers(2, 3)),
                      "applies_to": ["base"], "when": {"categories": ["coffee"]}})
    if draw(st.booleans()):
        cashback: dict = {"id": "cashback", "kind": "cashback", "percent": draw(st.sampled_from(["1", "2", "5"]))}
        if draw(st.booleans()):
            cashback["cap"] = {"per_member": draw(st.integers(1_000, 20_000)), "period": "month"}
        rules.append(cashback)
    document: dict = {
        "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": draw(st.sampled_from([0, 14]))},
                                    "wallet": {"expiry_days": 90}}},
        "rules": rules,
        "loyalty_table": {"rates": [{"points": 10, "value": draw(st.sampled_from([1_000, 5_000]))}]},
    }
    if draw(st.booleans()):
        document["tiers"] = {"basis": draw(st.sampled_from(["spend", "points", "visits"])), "window_days": 365,
                             "levels": [
                                 {"code": "bronze", "name": "Bronze", "threshold": 0},
                                 {"code": "silver", "name": "Silver", "threshold": draw(st.integers(1, 1_500_000)),
                                  "multiplier": 2, "discount_percent": draw(st.sampled_from([0, 5, 10]))}]}
    return document


lines = st.lists(st.fixed_dictionaries({
    "sku": st.sampled_from(["ESP", "LAT", "CAKE"]), "category": st.sampled_from(["coffee", "cake"]),
    "quantity": st.integers(1, 3), "unit_price": st.integers(1, 400).map(lambda n: n * 1_000)}), max_size=3)
baskets = st.tuples(lines, st.integers(0, 3).map(lambda n: n * 10_000))  # (items, unitemised other_amount)


def buy(business, member, basket, receipt: str, **options) -> dict:
    items, other = basket
    total = (sum(line["quantity"] * line["unit_price"] for line in items) + other) if items else other or 50_000
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=total,
                           lines=items or None, other_amount=other if items else 0, **options)


def outcome(call):
    """The answer, or the refusal's code and parameters: a dry run refuses what the purchase would."""
    try:
        return call()
    except VafaError as exc:
        return ("refused", exc.code, exc.params)


def written_rows() -> tuple[int, int, int, int]:
    return (Purchase.objects.count(), Entry.objects.count(), RewardEffect.objects.count(),
            OutboxEvent.objects.count())


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=programs(), history=st.lists(baskets, max_size=3), basket=baskets,
       redeem_points=st.sampled_from([0, 0, 10, 30, 500]), redeem_wallet=st.sampled_from([0, 0, 1_000, 50_000]))
def test_a_dry_run_shows_exactly_what_the_purchase_writes(business, document, history, basket, redeem_points,
                                                          redeem_wallet):
    activate_program(business, document)
    member = sign_up(business, mobile=f"0912{next(phones)}", first_name="Test")
    for earlier in history:
        buy(business, member, earlier, f"P-{next(receipts)}")
    receipt = f"R-{next(receipts)}"
    options = {"redeem_points": redeem_points, "redeem_wallet": redeem_wallet}

    rows = written_rows()
    with CaptureQueriesContext(connection) as queries:
        dry = outcome(lambda: buy(business, member, basket, receipt, dry_run=True, **options))
    assert written_rows() == rows
    statements = Counter(q["sql"].lstrip("(").split()[0].upper() for q in queries)  # a UNION is parenthesised
    assert set(statements) <= {"SELECT"}, statements  # no transaction, no lock, no write, no rollback
    assert not any("FOR UPDATE" in q["sql"] for q in queries)

    real = outcome(lambda: buy(business, member, basket, receipt, **options))
    if isinstance(dry, tuple):
        assert real == dry
        return
    assert isinstance(real, dict), real
    assert dry["dry_run"] is True
    assert {k: v for k, v in dry.items() if k not in PER_PURCHASE} == \
        {k: v for k, v in real.items() if k not in PER_PURCHASE}

    purchase = Purchase.objects.get(pk=real["purchase_id"])
    for name in ("discount", "payable", "earning_base", "points_redeemed", "points_value", "wallet_redeemed"):
        assert getattr(purchase, name) == dry[name], name
    shown = sorted((e["kind"], e["rule_id"], e["currency"] or "", e["amount"]) for e in dry["effects"]
                   if e["kind"] in ("earn", "cashback", "discount"))
    assert sorted(RewardEffect.objects.filter(purchase=purchase).exclude(kind="spend")
                  .values_list("kind", "rule_id", "currency", "amount")) == shown
    for currency in ("points", "wallet"):
        earned = sum(e["amount"] for e in dry["effects"] if e["kind"] in ("earn", "cashback")
                     and e["currency"] == currency)
        assert _entries(purchase, Entry.Kind.EARN, currency) == earned
    assert _entries(purchase, Entry.Kind.SPEND, "points") == dry["points_redeemed"]
    assert _entries(purchase, Entry.Kind.SPEND, "wallet") == dry["wallet_redeemed"]


def _entries(purchase, kind: str, currency: str) -> int:
    return Entry.objects.filter(purchase=purchase, kind=kind, currency=currency).aggregate(s=Sum("amount"))["s"] or 0
