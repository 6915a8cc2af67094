"""The dashboard's kept figures (panel.DashboardFigures): equal to the live scan, read in one query while
fresh, recomputed when stale, refreshed by the `dashboard_figures` job."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vafa.members.balances import adjust
from vafa.panel import selectors
from vafa.panel.models import DashboardFigures
from vafa.panel.services import refresh_dashboards


def live(business) -> dict:
    """What the selectors compute now, in the shape dashboard_figures answers."""
    return {"counts": selectors.member_counts(business), "liability": selectors.liability(business),
            "flow": selectors.points_flow(business), "months": selectors.months(business),
            "tiers": selectors.tier_mix(business), "sources": selectors.sign_ups_by_source(business),
            "branches": selectors.branch_comparison(business), "effect": selectors.cohort_effect(business),
            "rewards_cost": selectors.rewards_cost_this_month(business)}


def test_kept_figures_equal_the_live_scan(business, make_member, purchase_at):
    members = [make_member() for _ in range(3)]
    purchase_at(members[0], "t1", 1_230_000)
    purchase_at(members[1], "v2", 560_000)
    purchase_at(members[1], "v2", 90_000)
    adjust(business, members[2].pk, "wallet", 35_000, reason="refund")
    kept, _ = selectors.dashboard_figures(business)
    assert kept == live(business)
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
    assert at == later and kept["months"][-1].purchases == 2 and kept == live(business)


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
