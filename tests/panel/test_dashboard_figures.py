"""The dashboard's kept figures (panel.DashboardFigures): equal to the live scan, read in one query while
fresh, recomputed when stale, refreshed by the `dashboard_figures` job."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vafa.members.balances import adjust
from vafa.members.models import Member
from vafa.panel import selectors
from vafa.panel.models import DashboardFigures
from vafa.panel.services import refresh_dashboards
from vafa.purchases.services import record_purchase


def live(business, effect: dict) -> dict:
    """What the selectors compute now, in the shape dashboard_figures answers, with the cohort table given (a
    page view takes it as kept)."""
    return {"counts": selectors.member_counts(business), "liability": selectors.liability(business),
            "flow": selectors.points_flow(business), "months": selectors.months(business),
            "tiers": selectors.tier_mix(business), "sources": selectors.sign_ups_by_source(business),
            "branches": selectors.branch_comparison(business), "effect": effect,
            "rewards_cost": selectors.rewards_cost_this_month(business)}


def test_kept_figures_equal_the_live_scan(business, make_member, purchase_at):
    members = [make_member() for _ in range(3)]
    purchase_at(members[0], "t1", 1_230_000)
    purchase_at(members[1], "v2", 560_000)
    purchase_at(members[1], "v2", 90_000)
    adjust(business, members[2].pk, "wallet", 35_000, reason="refund")
    refresh_dashboards()
    kept, _ = selectors.dashboard_figures(business)
    assert {k: v for k, v in kept["effect"].items() if k != "computed_at"} == selectors.cohort_effect(business)
    assert kept == live(business, kept["effect"])
    assert kept["counts"]["total"] == 3 and [b["purchases"] for b in kept["branches"]] == [1, 2]  # most revenue first


def test_kept_figures_are_one_query_and_stale_ones_are_computed_without_a_write(business, make_member,
                                                                                 purchase_at):
    member = make_member()
    purchase_at(member, "t1", 100_000)
    selectors.dashboard_figures(business)
    assert not DashboardFigures.objects.exists()  # a page view writes nothing: the job keeps them
    assert refresh_dashboards() == 1
    purchase_at(member, "t1", 200_000)
    with CaptureQueriesContext(connection) as read:
        kept, _ = selectors.dashboard_figures(business)
    assert len(read.captured_queries) == 1  # the kept row, nothing scanned
    assert kept["months"][-1].purchases == 1  # as kept: the second purchase is not in yet
    later = timezone.now() + selectors.FIGURES_MAX_AGE + dt.timedelta(seconds=1)
    kept, at = selectors.dashboard_figures(business, now=later)
    assert at == later and kept["months"][-1].purchases == 2 and kept == live(business, kept["effect"])


def test_the_job_refreshes_the_businesses_that_are_due(business, make_member, purchase_at):
    member = make_member()
    assert refresh_dashboards() == 1  # none kept yet
    assert refresh_dashboards() == 0  # just computed
    purchase_at(member, "t1", 100_000)
    assert refresh_dashboards(timezone.now() + selectors.FIGURES_EVERY) == 1
    assert DashboardFigures.objects.get(business=business).figures["counts"]["active"] == 1


def test_the_page_says_when_its_figures_were_computed_and_a_cashier_sees_own_branch(signed_in, make_member,
                                                                                     purchase_at):
    member = make_member()
    purchase_at(member, "t1", 100_000)
    purchase_at(member, "v2", 777_000)
    html = signed_in("cashier", branch="t1").get("/panel/").content.decode()
    assert 'data-testid="figures-as-of"' in html and "هر ده دقیقه" in html
    assert "تجریش" in html and "ونک" not in html


def test_a_new_active_window_is_on_the_dashboard_at_once(business, make_member, purchase_at):
    from vafa.panel.services import set_active_days

    purchase_at(make_member(), "t1", 100_000)
    refresh_dashboards()
    assert selectors.dashboard_figures(business)[0]["counts"]["active_days"] == 365
    set_active_days(business, 90)
    assert selectors.dashboard_figures(business)[0]["counts"]["active_days"] == 90


def joined_long_ago(business, make_member) -> None:
    """A member seven months in, with a purchase in each of their first two quarters: a cohort table to show."""
    member = make_member()
    joined = timezone.now() - dt.timedelta(days=215)
    Member.objects.filter(pk=member.pk).update(joined_at=joined)
    for n, (days, total) in enumerate(((10, 400_000), (100, 200_000))):
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"C{n}", total=total,
                        occurred_at=joined + dt.timedelta(days=days))


def never(*args, **kwargs):
    pytest.fail("the cohort table computed in a page view")


def test_a_page_view_never_computes_the_cohort_table(signed_in, business, make_member, monkeypatch):
    """At a million members the table takes 24 s: only the dashboard_figures job computes it."""
    joined_long_ago(business, make_member)
    real = selectors.cohort_effect
    monkeypatch.setattr(selectors, "cohort_effect", never)
    client = signed_in("owner")
    html = client.get("/panel/").content.decode()  # nothing kept yet: the table comes with the job
    assert 'data-testid="effect-pending"' in html and "تا ده دقیقهٔ دیگر" in html
    assert 'data-testid="too-early"' not in html
    monkeypatch.setattr(selectors, "cohort_effect", real)
    assert refresh_dashboards() == 1
    monkeypatch.setattr(selectors, "cohort_effect", never)
    html = client.get("/panel/").content.decode()
    assert 'data-testid="effect-pending"' not in html and "۴۰۰٬۰۰۰" in html and "۲۰۰٬۰۰۰" in html
    later = timezone.now() + selectors.FIGURES_MAX_AGE + dt.timedelta(seconds=1)  # the job stopped: stale
    kept, at = selectors.dashboard_figures(business, now=later)
    assert at == later and kept["effect"]["rows"][-1]["early_spend"] == 400_000  # the kept table, as it was


def test_a_business_too_young_for_cohorts_says_so_before_the_job_runs(signed_in, make_member):
    make_member()
    html = signed_in("owner").get("/panel/").content.decode()
    assert 'data-testid="too-early"' in html and 'data-testid="effect-pending"' not in html


def test_the_job_recomputes_the_cohort_table_once_an_hour(business, make_member, monkeypatch):
    joined_long_ago(business, make_member)
    calls = []
    real = selectors.cohort_effect
    monkeypatch.setattr(selectors, "cohort_effect", lambda b: calls.append(b.pk) or real(b))
    now = timezone.now().replace(microsecond=0)  # as JSON keeps it (milliseconds)
    assert refresh_dashboards(now) == 1 and len(calls) == 1
    assert refresh_dashboards(now + selectors.FIGURES_EVERY) == 1 and len(calls) == 1  # the other figures only
    assert refresh_dashboards(now + selectors.EFFECT_EVERY) == 1 and len(calls) == 2
    effect = DashboardFigures.objects.get(business=business).figures["effect"]
    assert dt.datetime.fromisoformat(effect["computed_at"]) == now + selectors.EFFECT_EVERY
    assert effect["rows"][-1]["later_spend"] == 200_000


def test_a_new_active_window_keeps_the_cohort_table(business, make_member, monkeypatch):
    from vafa.panel.services import set_active_days

    joined_long_ago(business, make_member)
    refresh_dashboards()
    monkeypatch.setattr(selectors, "cohort_effect", never)
    set_active_days(business, 90)
    kept, _ = selectors.dashboard_figures(business)
    assert kept["counts"]["active_days"] == 90 and kept["effect"]["rows"][-1]["early_spend"] == 400_000
