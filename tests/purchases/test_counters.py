"""The activity counters give exactly the aggregates they replace (purchases.counters): the rolling tier metric
on every basis and the cap-period totals, at window edges to the microsecond, with backdated purchases, returns,
cancellations and visits, in a timezone whose midnight is not UTC's. Runs on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from django.db.models import F, Sum

from vafa.program.engine import Context, cap_period_start
from vafa.program.selectors import active_program, context_of
from vafa.purchases import counters
from vafa.purchases.activities import check_in
from vafa.purchases.models import ActivityCounter, Purchase, RewardEffect, Visit
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase

PERIODS = ("day", "week", "month", "year", "ever")


def document_for(basis: str) -> dict:
    return {
        "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 0},
                                    "wallet": {"expiry_days": 90}}},
        "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                  {"id": "visit", "kind": "earn", "on": "visit", "basis": "fixed", "award": 3}]
        + [{"id": f"cb-{period}", "kind": "cashback", "percent": "1",
            "cap": {"per_member": 10_000_000, "period": period}} for period in PERIODS],
        "tiers": {"basis": basis, "window_days": 365, "levels": [
            {"code": "bronze", "name": "Bronze", "threshold": 0},
            {"code": "silver", "name": "Silver", "threshold": 10 ** 12}]},
    }


def old_tier_metric(member, document, at: dt.datetime) -> int:
    """The aggregate over the rows that the counters replace (purchases.selectors before issue 11)."""
    start = at - dt.timedelta(days=document.tiers.window_days)
    purchases = Purchase.objects.filter(business_id=member.business_id, member=member, status__in=Purchase.COUNTED,
                                        occurred_at__gt=start, occurred_at__lte=at)
    if document.tiers.basis == "spend":
        return purchases.aggregate(n=Sum("spend"))["n"] or 0
    if document.tiers.basis == "points":
        earned = RewardEffect.objects.filter(business_id=member.business_id, member=member, kind="earn",
                                             currency="points", occurred_at__gt=start, occurred_at__lte=at)
        return earned.aggregate(n=Sum(F("amount") - F("reversed_amount")))["n"] or 0
    visits = Visit.objects.filter(business_id=member.business_id, member=member, occurred_at__gt=start,
                                  occurred_at__lte=at).count()
    return visits + purchases.count()


def old_period_total(member, rule_id: str, period: str, at: dt.datetime, ctx: Context) -> int:
    effects = RewardEffect.objects.filter(business_id=member.business_id, member=member, rule_id=rule_id)
    start = cap_period_start(period, at, ctx)
    if start is not None:
        effects = effects.filter(occurred_at__gte=start)
    return effects.aggregate(n=Sum(F("amount") - F("reversed_amount")))["n"] or 0


def assert_agree(business, member, moments) -> None:
    _, document = active_program(business)
    ctx = context_of(business)
    for at in moments:
        standing = counters.standing(member, document, at, ctx)
        assert standing.tier_metric == old_tier_metric(member, document, at), at
        assert counters.tier_metric(member, document, at) == standing.tier_metric
        assert standing.purchase_count == Purchase.objects.filter(member=member,
                                                                  status__in=Purchase.COUNTED).count()
        assert standing.visit_count == Visit.objects.filter(member=member).count()
        for period in PERIODS:
            assert standing.period_totals[f"cb-{period}"] == old_period_total(member, f"cb-{period}", period, at,
                                                                              ctx), (period, at)
    assert counters.check_counters() == []


def edges(moment: dt.datetime) -> list[dt.datetime]:
    return [moment - dt.timedelta(microseconds=1), moment, moment + dt.timedelta(microseconds=1)]


@pytest.mark.parametrize("basis", ["spend", "points", "visits"])
def test_counters_equal_the_aggregates_at_every_edge(business, program, member, basis):
    program(document_for(basis))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    anchor = now - dt.timedelta(days=3)
    year = dt.timedelta(days=365)
    # backdated purchases on both sides of the window's edges, one at a Tehran midnight (20:30 UTC), visits too
    local_midnight = dt.datetime.combine(anchor.date(), dt.time(20, 30), tzinfo=dt.UTC) - dt.timedelta(days=1)
    moments = [*edges(anchor - year), anchor - year + dt.timedelta(hours=5), *edges(local_midnight),
               dt.datetime.combine(anchor.date(), dt.time(), tzinfo=dt.UTC), anchor - dt.timedelta(days=40),
               *edges(anchor), anchor + dt.timedelta(days=1), now - dt.timedelta(minutes=5)]
    receipts = []
    for i, at in enumerate(moments):
        body = record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"E{i}",
                               total=100_000 * (i + 1), occurred_at=at)
        receipts.append(body["purchase_id"])
        if i % 3 == 0:
            check_in(business, member_id=member.pk, branch_code="t1", occurred_at=at)
    probes = [m for at in moments for m in (at, at + year, at + year - dt.timedelta(microseconds=1))] + [now]
    probes = [m for m in probes if m <= now]
    assert_agree(business, member, probes)

    return_purchase(business, receipts[1], amount=50_000)  # an edge purchase partly returned
    cancel_purchase(business, receipts[5])
    return_purchase(business, receipts[-2], amount=100_000 * len(moments) - 100_000)  # fully returned
    assert_agree(business, member, probes)


def test_rebuild_writes_what_the_writes_kept(business, member):
    for i in range(4):
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"R{i}", total=150_000,
                        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=i * 100))
    check_in(business, member_id=member.pk, branch_code="t1")
    kept = set(ActivityCounter.objects.filter(value__gt=0).values_list("member_id", "name", "day", "value"))
    assert kept
    written = counters.rebuild_counters(ActivityCounter, Purchase, Visit, RewardEffect, business.pk)
    assert written == len(kept)
    assert set(ActivityCounter.objects.values_list("member_id", "name", "day", "value")) == kept
    ActivityCounter.objects.filter(name="spend", day=counters.TOTAL).update(value=F("value") + 1)
    assert counters.check_counters(business.pk) == [
        f"member {member.pk} spend 0001-01-01: counter {600_001} != rows {600_000}"]
    counters.rebuild_counters(ActivityCounter, Purchase, Visit, RewardEffect, business.pk)


def test_the_purchase_load_reads_what_the_separate_reads_did(business, program, member):
    """counters.load, one statement: the standing, the accounts (kept for the ledger's writes), the balances as
    of the moment with the lots due by then counted in (one released from pending, one expired), the id."""
    from vafa.ledger.models import Account
    from vafa.ledger.selectors import balances

    program({"settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 14},
                                         "wallet": {"expiry_days": 5}}},
             "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                       {"id": "cb", "kind": "cashback", "percent": "2"}]})
    now = dt.datetime.now(dt.UTC)
    for i, days in enumerate((20, 10, 1)):  # points: released, pending, pending; wallet: expired, expired, open
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"L-{i}", total=500_000,
                        occurred_at=now - dt.timedelta(days=days))
    _, document = active_program(business)
    branch = Purchase.objects.get(receipt="L-0").branch
    for receipt, earlier in (("L-1", Purchase.objects.get(receipt="L-1").pk), ("new", 0)):
        loaded = counters.load(member, document, now, context_of(business), (branch.pk, receipt), take_id=True)
        assert loaded.standing == counters.standing(member, document, now, context_of(business),
                                                    receipt=(branch.pk, receipt))
        assert loaded.standing.earlier_purchase_id == earlier
        assert loaded.balances == balances(member, now)
        assert loaded.balances["points"]["available"] == 50 and loaded.balances["wallet"]["available"] == 10_000
        assert loaded.purchase_id > Purchase.objects.order_by("-pk").first().pk
        kept = member.__dict__["_vafa_accounts"]
        assert {key: (a.pk, a.balance, a.code) for key, a in kept.items()} == {
            (a.currency, a.kind) if a.member_id else ("b", a.currency, a.kind): (a.pk, a.balance, a.code)
            for a in Account.objects.filter(business=business).filter(member__isnull=True)
            | Account.objects.filter(business=business, member=member)}


@pytest.mark.parametrize("basis", ["spend", "visits"])
def test_every_part_of_the_load_answers_the_union_s_own_types(business, program, member, basis):
    """PostgreSQL: each part of the purchase's load answers exactly the UNION's column types, so the plan has no
    conversion step (a Subquery Scan) per part: each cost the executor's start-up at every purchase
    (docs/benchmarks.md, pg-write). Every kind of part: the receipt, counters, raw edges, caps, tiers, the
    reward keys, accounts, lots and the id taken."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    document = document_for(basis)
    document["rules"].append({"id": "card", "kind": "stamp", "every": 3, "reward": {"code": "FREE", "name": "Free"}})
    program(document)
    _, parsed = active_program(business)
    at = dt.datetime(2025, 3, 20, 9, 17, 3, tzinfo=dt.UTC)
    load = counters.Load(business.pk, member.pk, parsed, at, context_of(business), (7, "R-1"), take_id=True)
    assert "purchases_issuedreward" in load.sql and "nextval" in load.sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (VERBOSE) {load.sql}", load.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Append" in plan and "Subquery Scan" not in plan, plan


@pytest.mark.parametrize("basis", ["spend", "visits"])
def test_a_kept_load_shape_gives_the_statement_built_afresh(business, program, member, basis):
    """counters.Load takes its statement from a shape kept per program version and day (program.derived), the
    moments and ids filled in: the same text and parameters as the parts built afresh for that moment, on
    either side of UTC's and Tehran's midnights, to the microsecond, with and without a receipt."""
    from vafa.ledger.selectors import load_parts
    from vafa.program import cache, derived

    program(document_for(basis))
    document, ctx = cache.setup_of(business).document, context_of(business)
    assert derived.of(document) is derived.of(document)  # a held program's place is kept

    def afresh(at, receipt, take_id, table):
        query = counters._Query(business.pk, member.pk)
        counters._standing_parts(query, document, at, ctx, receipt)
        for sql, params in load_parts(business.pk, member.pk, at):
            query.rows(sql, params)
        if take_id:
            query.rows(counters._next_id_sql(query.vendor, table), [])
        return query.statement(), query.params

    day = dt.datetime(2025, 3, 20, tzinfo=dt.UTC)
    tehran_midnight = dt.datetime(2025, 3, 20, 20, 30, tzinfo=dt.UTC)
    moments = [day, *edges(day + dt.timedelta(hours=9, minutes=17, seconds=3, microseconds=5)),
               *edges(tehran_midnight), *edges(day + dt.timedelta(days=1)), day + dt.timedelta(days=40, hours=3)]
    for at in moments:
        for receipt, take_id, table in (((7, "R-1"), True, "purchases_purchase"), ((7, "R-2"), False,
                                        "purchases_purchase"), (None, True, "purchases_visit")):
            load = counters.Load(business.pk, member.pk, document, at, ctx, receipt, take_id=take_id, table=table)
            assert (load.sql, load.params) == afresh(at, receipt, take_id, table), (at, receipt)
    assert derived.of(document)["load_shapes"]  # kept, and used again by the moments of one day
