"""A dry run is the purchase's decide step alone: it writes nothing, takes no lock, opens no transaction, and the
plan it shows is exactly what the real purchase then writes — for random programs, histories and baskets."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vafa.core.errors import VafaError
from vafa.core.models import RateCounter
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.models import Entry, GiftCard
from vafa.members.balances import grant_gift_credit
from vafa.members.models import Member
from vafa.members.services import sign_up
from vafa.outbox.models import OutboxEvent
from vafa.program.services import activate_program
from vafa.purchases.models import IssuedReward, Purchase, RewardEffect
from vafa.purchases.services import record_purchase
from vafa.vouchers.models import VoucherCode
from vafa.vouchers.services import create_code, create_definition, reserve

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


def written_rows() -> tuple[int, ...]:
    return (Purchase.objects.count(), Entry.objects.count(), RewardEffect.objects.count(),
            OutboxEvent.objects.count(), IssuedReward.objects.filter(status="used").count(),
            sum(GiftCard.objects.values_list("balance", flat=True)),
            sum(VoucherCode.objects.values_list("used_count", flat=True)),
            Member.objects.filter(status=Member.Status.ACTIVE).count())


def dry_run_reads_only(call):
    """The dry run's outcome, asserting it wrote nothing and sent nothing but reads: no transaction, no
    savepoint, no lock. The one write allowed: an unknown code counted against the guessing budget (after it)."""
    rows = written_rows()
    with CaptureQueriesContext(connection) as queries:
        dry = outcome(call)
    assert written_rows() == rows
    sql = [q["sql"] for q in queries if RateCounter._meta.db_table not in q["sql"]]
    statements = Counter(one.lstrip("(").split()[0].upper() for one in sql)  # a UNION is parenthesised
    assert set(statements) <= {"SELECT"}, statements  # no BEGIN, SAVEPOINT, write or rollback
    assert not any("FOR UPDATE" in one for one in sql)
    return dry


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

    dry = dry_run_reads_only(lambda: buy(business, member, basket, receipt, dry_run=True, **options))
    real = outcome(lambda: buy(business, member, basket, receipt, **options))
    assert_the_same_plan(dry, real)


def assert_the_same_plan(dry, real) -> None:
    """The dry run answers what the purchase answers (or refuses what it refuses), and the purchase writes what
    the dry run showed."""
    if isinstance(dry, tuple):
        assert real == dry
        return
    assert isinstance(real, dict), real
    assert dry["dry_run"] is True
    assert {k: v for k, v in dry.items() if k not in PER_PURCHASE} == \
        {k: v for k, v in real.items() if k not in PER_PURCHASE}

    purchase = Purchase.objects.get(pk=real["purchase_id"])
    for name in ("discount", "payable", "earning_base", "points_redeemed", "points_value", "wallet_redeemed",
                 "gift_credit_redeemed", "gift_card_redeemed"):
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
    assert _entries(purchase, Entry.Kind.SPEND, "gift_credit") == dry["gift_credit_redeemed"]
    assert sorted(IssuedReward.objects.filter(used_purchase=purchase).values_list("pk", flat=True)) == \
        sorted(reward["id"] for reward in dry["rewards"])


def _entries(purchase, kind: str, currency: str) -> int:
    return Entry.objects.filter(purchase=purchase, kind=kind, currency=currency).aggregate(s=Sum("amount"))["s"] or 0


# --- what the purchase locks and counts, a closed club and a referral --------------------------------------------

CODES = ("TENPC", "FIX20", "BIGONLY", "ONCE", "NOSUCH")


def voucher_codes(business) -> None:
    """The business's codes, made once for all of a test's examples: a percentage, an amount, one for big
    baskets only, one single use per member."""
    if VoucherCode.objects.filter(business=business).exists():
        return
    for code, terms in (("TENPC", {"kind": "percent", "percent": "10"}), ("FIX20", {"kind": "fixed", "amount": 20_000}),
                        ("BIGONLY", {"kind": "fixed", "amount": 5_000, "min_amount": 5_000_000}),
                        ("ONCE", {"kind": "fixed", "amount": 1_000, "max_uses_per_member": 1})):
        create_code(create_definition(business, name=code, **terms), code)


@st.composite
def situations(draw) -> dict:
    """What else a purchase may carry: codes, held rewards, gift credit, a gift card; and who makes it: a
    closed club's candidate, a referred member (sign-up verified or not)."""
    return {
        "club": draw(st.sampled_from([None, None, None, ("purchases", 2), ("purchases", 3), ("spend", 600_000),
                                      ("spend", 50_000_000)])),  # some admitted by this purchase, some not
        "referred": draw(st.sampled_from([None, None, True, False])),  # mobile verified at sign-up
        "rewards": draw(st.booleans()),
        "codes": draw(st.lists(st.sampled_from(("TENPC", "FIX20") * 2 + CODES[2:]), max_size=2, unique=True)),
        "on_bad_code": draw(st.sampled_from(["refuse", "skip"])),
        "grant": draw(st.sampled_from([None, (), (), ("coffee",)])),  # gift credit: for anything, or coffee
        "gift_credit": draw(st.sampled_from([0, 10_000, 30_000, 60_000])),
        "gift_card": draw(st.sampled_from([None, None, 20_000, 40_000, 500_000, "unknown"])),
        "use_rewards": draw(st.integers(0, 2)),
    }


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=programs(), situation=situations(), history=st.lists(baskets, min_size=1, max_size=2),
       basket=baskets)
def test_a_dry_run_with_codes_rewards_gift_credit_and_cards_shows_what_the_purchase_writes(
        business, document, situation, history, basket):
    if situation["club"]:
        basis, threshold = situation["club"]
        document["club"] = {"kind": "closed", "entry": {"basis": basis, "threshold": threshold}}
    if situation["referred"] is not None:
        document["referral"] = {"on": ["signup", "first_purchase"], "referrer": {"currency": "points", "amount": 100},
                                "referee": {"currency": "gift_credit", "amount": 30_000, "expiry_days": 30}}
    if situation["rewards"]:
        document["rules"].append({"id": "welcome", "kind": "sequence", "steps": [
            {"code": "OFF", "name": "20,000 off", "gives": "amount_off", "amount": 20_000},
            {"code": "TEN", "name": "10% off", "gives": "percent_off", "percent": "10", "max_discount": 30_000},
            {"code": "MUG", "name": "A mug"}]})
    activate_program(business, document)
    voucher_codes(business)
    referral = {}
    if situation["referred"] is not None:
        referrer = sign_up(business, mobile=f"0912{next(phones)}", first_name="Friend")
        referral = {"referral_code": referrer.code, "mobile_verified": situation["referred"]}
    member = sign_up(business, mobile=f"0912{next(phones)}", first_name="Test", **referral)
    for earlier in history:
        buy(business, member, earlier, f"P-{next(receipts)}")
    options: dict = {"codes": situation["codes"], "on_bad_code": situation["on_bad_code"],
                     "redeem_gift_credit": situation["gift_credit"]}
    if situation["grant"] is not None and Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE:
        grant_gift_credit(business, amount=50_000, reason="gift", member_ids=[member.pk],
                          expires_at=timezone.now() + dt.timedelta(days=30), categories=list(situation["grant"]))
    if situation["gift_card"] == "unknown":
        options["gift_card"] = {"code": "NOSU-CHCA-RD00-0000", "amount": 1_000}
    elif situation["gift_card"]:
        card = issue_gift_card(business, amount=100_000)
        options["gift_card"] = {"code": card.code, "amount": situation["gift_card"]}
    held = IssuedReward.objects.filter(member=member, status=IssuedReward.Status.ISSUED).order_by("pk")
    options["rewards"] = list(held.values_list("pk", flat=True)[:situation["use_rewards"]])
    receipt = f"R-{next(receipts)}"

    dry = dry_run_reads_only(lambda: buy(business, member, basket, receipt, dry_run=True, **options))
    real = outcome(lambda: buy(business, member, basket, receipt, **options))
    assert_the_same_plan(dry, real)


@pytest.fixture
def situation(business, member):
    """A member holding a reward, gift credit and a gift card, with a code to enter."""
    document = {**PROGRAM_WITH_A_REWARD}
    activate_program(business, document)
    voucher_codes(business)
    buy(business, member, ([], 0), "FIRST")
    grant_gift_credit(business, amount=50_000, reason="gift", member_ids=[member.pk])
    return {"reward": IssuedReward.objects.get(member=member).pk,
            "card": issue_gift_card(business, amount=100_000).code}


PROGRAM_WITH_A_REWARD = {
    "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 14}}},
    "rules": [{"id": "base", "kind": "earn", "per": 10_000, "award": 1},
              {"id": "welcome", "kind": "sequence", "steps": [
                  {"code": "OFF", "name": "20,000 off", "gives": "amount_off", "amount": 20_000}]}],
}


@pytest.mark.parametrize("options", [
    {"codes": ["TENPC", "FIX20"]},
    {"codes": ["BIGONLY", "TENPC"], "on_bad_code": "skip"},
    {"codes": ["BIGONLY"]},
    {"codes": ["NOSUCH"]},
    {"rewards": "held"},
    {"redeem_gift_credit": 30_000},
    {"gift_card": 40_000},
], ids=["codes", "a-code-skipped", "a-code-refused", "an-unknown-code", "a-held-reward", "gift-credit", "gift-card"])
def test_each_dry_run_reads_and_writes_nothing(business, member, situation, options):
    options = dict(options)
    if options.get("rewards"):
        options["rewards"] = [situation["reward"]]
    if options.get("gift_card"):
        options["gift_card"] = {"code": situation["card"], "amount": options["gift_card"]}
    basket = ([{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000}], 0)
    dry = dry_run_reads_only(lambda: buy(business, member, basket, "R-1", dry_run=True, **options))
    real = outcome(lambda: buy(business, member, basket, "R-1", **options))
    assert_the_same_plan(dry, real)


def test_a_candidate_and_a_referred_members_first_purchase_dry_runs_read_only(business, member):
    activate_program(business, {**PROGRAM_WITH_A_REWARD, "club": {"kind": "closed", "entry": {
        "basis": "spend", "threshold": 150_000}}, "referral": {
        "on": ["signup", "first_purchase"], "referrer": {"currency": "points", "amount": 100},
        "referee": {"currency": "gift_credit", "amount": 30_000, "expiry_days": 30}}})
    friend = sign_up(business, mobile="09350000001", referral_code=member.code, mobile_verified=False)
    assert friend.status == Member.Status.CANDIDATE
    for receipt, total in (("F-1", 100_000), ("F-2", 100_000), ("F-3", 100_000)):  # admitted at the second
        dry = dry_run_reads_only(lambda: record_purchase(business, member_id=friend.pk, branch_code="t1",
                                                         receipt=receipt, total=total, dry_run=True))  # noqa: B023
        real = record_purchase(business, member_id=friend.pk, branch_code="t1", receipt=receipt, total=total)
        assert_the_same_plan(dry, real)
    assert Member.objects.get(pk=friend.pk).status == Member.Status.ACTIVE


def test_a_dry_run_counts_reservations_and_the_members_uses_of_a_code_as_the_purchase_does(business, member,
                                                                                         make_member):
    """The uses that limit a code (another member's reservation of its last use, the member's own uses of its
    definition) are read with the code in a dry run, after the lock in the purchase: the same answers."""
    activate_program(business, PROGRAM_WITH_A_REWARD)
    create_code(create_definition(business, name="last", kind="fixed", amount=1_000), "LAST", max_uses=1)
    create_code(create_definition(business, name="once", kind="fixed", amount=1_000, max_uses_per_member=1), "ONCE")
    holder = make_member()
    reserve(business, "LAST", holder)
    basket = ([], 0)

    def both(who, codes: list[str], receipt: str):
        dry = dry_run_reads_only(lambda: buy(business, who, basket, receipt, dry_run=True, codes=codes))
        real = outcome(lambda: buy(business, who, basket, receipt, codes=codes))
        assert_the_same_plan(dry, real)
        return dry

    assert both(member, ["LAST"], "R-1")[2]["reason"] == "reserved"  # the last use is held for the holder
    assert both(member, ["ONCE"], "R-2")["discount"] == 1_000
    assert both(member, ["ONCE"], "R-3")[2]["reason"] == "member_limit_reached"
    assert both(holder, ["LAST", "ONCE"], "R-4")["discount"] == 2_000  # their own reservation holds nothing back
