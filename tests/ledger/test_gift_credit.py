import datetime as dt

import pytest
from django.utils import timezone

from vafa.core.errors import InsufficientBalance, InvalidInput
from vafa.ledger.check import check_ledger
from vafa.ledger.maths import RestrictedLot, allocate_restricted
from vafa.ledger.selectors import balances
from vafa.members.balances import grant_gift_credit
from vafa.purchases.services import record_purchase, return_purchase

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def lot(id_, remaining, days=None, categories=(), branches=()):
    return RestrictedLot(id_, remaining, NOW + dt.timedelta(days=days) if days else None, NOW,
                         frozenset(categories), frozenset(branches))


def test_expiring_first_within_restrictions():
    lots = [lot(1, 100, days=30), lot(2, 100, days=5, categories=["coffee"]), lot(3, 100, branches=["v2"])]
    basket = [("coffee", 60), ("food", 200)]
    # lot 2 expires first but pays only the 60 of coffee; lot 1 pays the rest; lot 3 is for another branch.
    assert allocate_restricted(lots, basket, "t1", 150) == [(2, 60), (1, 90)]
    assert allocate_restricted(lots, basket, "v2", 260) == [(2, 60), (1, 100), (3, 100)]


def test_a_line_is_never_paid_twice():
    lots = [lot(1, 500, days=1, categories=["coffee"]), lot(2, 500, days=2, categories=["coffee"])]
    assert allocate_restricted(lots, [("coffee", 120), ("food", 80)], None, 200) == [(1, 120)]


def test_grant_to_members_and_spend_at_a_purchase(business, member, make_member):
    other = make_member()
    expires = timezone.now() + dt.timedelta(days=30)
    result = grant_gift_credit(business, amount=50_000, reason="هدیه تولد", member_ids=[member.pk, other.pk],
                               expires_at=expires, categories=["coffee"], occasion="birthday")
    assert (result["members"], result["total"]) == (2, 100_000)
    assert balances(member)["gift_credit"]["available"] == 50_000
    lines = [{"sku": "L", "category": "coffee", "quantity": 1, "unit_price": 30_000},
             {"sku": "F", "category": "food", "quantity": 1, "unit_price": 70_000}]
    with pytest.raises(InsufficientBalance):  # only the 30,000 of coffee can be paid with this credit
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt="G1", total=100_000, lines=lines,
                        redeem_gift_credit=40_000)
    bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="G1", total=100_000,
                             lines=lines, redeem_gift_credit=30_000)
    assert (bought["gift_credit_redeemed"], bought["payable"]) == (30_000, 70_000)
    assert balances(member)["gift_credit"]["available"] == 20_000
    back = return_purchase(business, bought["purchase_id"], amount=100_000)
    assert {"kind": "give_back", "currency": "gift_credit", "amount": 30_000, "unrecovered": 0,
            "rule_id": "redeem:gift_credit"} in back["reversed"]
    assert balances(member)["gift_credit"]["available"] == 50_000
    assert check_ledger() == []


def test_grant_to_a_tier_and_bad_input(business, member, make_member):
    make_member()
    assert grant_gift_credit(business, amount=10_000, reason="apology", tier="bronze")["members"] == 2
    with pytest.raises(InvalidInput) as info:
        grant_gift_credit(business, amount=0, reason="", tier="bronze", member_ids=[member.pk],
                          branches=["nowhere"])
    assert {e["field"] for e in info.value.errors} == {"amount", "reason", "member_ids", "branches"}


def test_birthday_gift_in_the_jalali_birth_month_once_a_year(business, program, make_member):
    from tests.conftest import PROGRAM

    from vafa.members.balances import grant_birthday_gifts

    program(PROGRAM | {"birthday_gift": {"amount": 20_000, "tiers": {"gold": 100_000}, "expiry_days": 30}})
    farvardin = make_member(birth_date="1370/01/15")  # born in Farvardin (April 1991)
    gold = make_member(birth_date="1365/01/30")
    gold.tier = "gold"
    gold.save(update_fields=["tier"])
    make_member(birth_date="1370/02/10")  # Ordibehesht: not this month
    nowruz = dt.datetime(2025, 3, 25, 9, 0, tzinfo=dt.UTC)  # 5 Farvardin 1404
    assert grant_birthday_gifts(nowruz) == 2
    assert balances(farvardin, nowruz)["gift_credit"]["available"] == 20_000  # as of then: it expires in 30 days
    assert balances(gold, nowruz)["gift_credit"]["available"] == 100_000
    assert grant_birthday_gifts(nowruz + dt.timedelta(days=3)) == 0  # once per year
    assert check_ledger() == []


@pytest.mark.django_db(transaction=True)
def test_a_grant_to_many_members_commits_in_short_batches(business, make_member, monkeypatch):
    from tests.core.transactions import watched_transactions

    from vafa.ledger.models import Entry
    from vafa.members import balances as member_balances

    monkeypatch.setattr(member_balances, "MEMBERS_PER_TRANSACTION", 10)
    ids = [make_member().pk for _ in range(45)]
    with watched_transactions(lambda: Entry.objects.filter(source="grant").count()) as commits:
        result = grant_gift_credit(business, amount=5_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")
    granted = [count for _, count in commits]
    assert granted == [0, 10, 20, 30, 40, 45]  # the Idempotency-Key's claim alone, then ten members at a time
    assert result["total"] == 45 * 5_000 and check_ledger() == []
    again = grant_gift_credit(business, amount=5_000, reason="Nowruz", member_ids=ids, idempotency_key="g-1")
    assert again["replayed"] and Entry.objects.filter(source="grant").count() == 45
    print(f"longest transaction: {max(seconds for seconds, _ in commits) * 1000:.1f} ms")
