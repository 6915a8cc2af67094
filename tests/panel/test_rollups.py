"""The reports' rollups (panel.rollups): the points accounting and the branch report read the kept days plus what
is newer live, and equal the same reports computed from the entries and purchases alone, across the boundary,
after a backdated purchase, a return of an old purchase and an import; the job is idempotent and its
increments equal a rebuild."""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from vafa.imports.services import import_members, import_purchases
from vafa.ledger.selectors import CURRENCIES
from vafa.members.balances import adjust
from vafa.panel import rollups, selectors
from vafa.panel.models import BranchDay, LedgerDay, ReportRollup
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase, return_purchase

pytestmark = pytest.mark.django_db

TEHRAN = ZoneInfo("Asia/Tehran")


def today() -> dt.date:
    return timezone.now().astimezone(TEHRAN).date()


def days_ago(days: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(today() - dt.timedelta(days=days), dt.time(hour), tzinfo=TEHRAN)


def run_job() -> str:
    return rollups.roll_up_reports()


def live_only(monkeypatch, call):
    """The same report with no rollup: every entry and purchase read live (the reports before the rollups)."""
    with monkeypatch.context() as patch:
        patch.setattr(selectors, "rollup_of", lambda business: None)
        return call()


def accounting(business, days: int = 30):
    return selectors.points_accounting(business, today() - dt.timedelta(days=days - 1), today(), CURRENCIES)


def assert_accounting_exact(business, monkeypatch) -> None:
    """Over 30 days and over 5 (its opening then sums kept and live days before the range)."""
    for days in (30, 5):
        assert_accounting_rows_exact(business, monkeypatch, days)


def assert_accounting_rows_exact(business, monkeypatch, days: int) -> None:
    rows = accounting(business, days)
    assert rows == live_only(monkeypatch, lambda: accounting(business, days))
    for currency in CURRENCIES:
        mine = [r for r in rows if r.currency == currency]
        assert all(r.opening + r.net == r.closing for r in mine)
        assert all(a.opening == b.closing for b, a in zip(mine, mine[1:], strict=False))
        assert mine[-1].closing == selectors.members_hold(business, currency)


def direct_branches(business, first: dt.date | None, last: dt.date) -> list[dict]:
    """The branch report from the purchases by hand: no query of the report's own."""
    sums: dict = defaultdict(lambda: defaultdict(int))
    seen: set = set()
    for p in Purchase.objects.filter(business=business, status__in=Purchase.COUNTED).select_related("branch"):
        day = p.occurred_at.astimezone(TEHRAN).date()
        if (first and day < first) or day > last:
            continue
        row = sums[p.branch.name]
        row["purchases"] += 1
        row["revenue"] += p.spend
        row["discount"] += p.discount
        row["points_redeemed"] += p.points_redeemed
        if (p.branch_id, day, p.member_id) not in seen:
            seen.add((p.branch_id, day, p.member_id))
            row["visits"] += 1
    return sorted(({"branch__name": name, **row, "average": row["revenue"] // row["purchases"]}
                   for name, row in sums.items()), key=lambda r: r["branch__name"])


def assert_branches_exact(business, monkeypatch) -> None:
    """The branch report over several ranges, and the dashboard's months, which read the same kept days."""
    assert selectors.months(business) == live_only(monkeypatch, lambda: selectors.months(business))
    assert sum(m.purchases for m in selectors.months(business)) == Purchase.objects.filter(
        business=business, status__in=Purchase.COUNTED).count()
    for first in (today() - dt.timedelta(days=29), today() - dt.timedelta(days=3), None):
        for last in (today(), today() - dt.timedelta(days=2)):
            shown = sorted(selectors.branch_performance(business, first, last), key=lambda r: r["branch__name"])
            assert shown == direct_branches(business, first, last), (first, last)
            assert shown == sorted(live_only(monkeypatch, lambda f=first, la=last: selectors.branch_performance(
                business, f, la)), key=lambda r: r["branch__name"])


def kept_rows(business) -> tuple[list, list]:
    return (sorted(LedgerDay.objects.filter(business=business).values_list(
                "day", "currency", "earned", "reversed", "spent", "given_back", "expired", "other")),
            sorted(BranchDay.objects.filter(business=business).values_list(
                "day", "branch_id", "purchases", "visits", "revenue", "discount", "points_redeemed")))


@pytest.fixture
def history(business, member, make_member):
    """Purchases on four past days at both branches; today an adjustment and a purchase paid partly in points."""
    other = make_member()
    for n, ago in enumerate((9, 6, 6, 3, 1)):
        record_purchase(business, member_id=(member if n % 2 else other).pk, branch_code="t1" if n < 3 else "v2",
                        receipt=f"H{n}", total=400_000 + n * 10_000, occurred_at=days_ago(ago))
    adjust(business, other.pk, "points", 400, reason="هدیه")
    record_purchase(business, member_id=other.pk, branch_code="t1", receipt="H-spend", total=300_000,
                    redeem_points=100)
    return member, other


def test_reports_equal_the_ledger_across_the_rollup_boundary(business, history, monkeypatch):
    member, _other = history
    assert run_job() == "1 businesses"
    state = ReportRollup.objects.get(business=business)
    assert state.purchases_through == today() - dt.timedelta(days=1) and state.entry_mark > 0
    assert LedgerDay.objects.filter(business=business).exists()
    assert BranchDay.objects.filter(business=business, day=today() - dt.timedelta(days=6)).get().purchases == 2
    # after the job: today's purchase and adjustment are read live on top of the kept days
    record_purchase(business, member_id=member.pk, branch_code="v2", receipt="T1", total=500_000)
    adjust(business, member.pk, "points", -3, reason="اصلاح")
    assert_accounting_exact(business, monkeypatch)
    assert_branches_exact(business, monkeypatch)


def test_a_backdated_purchase_and_an_old_return_show_before_and_after_the_job(business, history, monkeypatch):
    member, other = history
    run_job()
    record_purchase(business, member_id=other.pk, branch_code="t1", receipt="B1", total=700_000,
                    occurred_at=days_ago(6, 18))  # into a kept day
    old = Purchase.objects.get(business=business, receipt="H3")
    return_purchase(business, old.pk, amount=100_000)
    first = Purchase.objects.get(business=business, receipt="H0")
    return_purchase(business, first.pk, amount=first.total)  # whole: it stops counting
    assert_accounting_exact(business, monkeypatch)  # not taken in yet: read live
    assert_branches_exact(business, monkeypatch)
    run_job()
    assert_accounting_exact(business, monkeypatch)
    assert_branches_exact(business, monkeypatch)
    assert not BranchDay.objects.filter(business=business, day=today() - dt.timedelta(days=9)).exists()
    assert BranchDay.objects.get(business=business, day=today() - dt.timedelta(days=6),
                                 branch__code="t1").purchases == 3


def test_an_imported_history_shows_before_and_after_the_job(business, history, monkeypatch):
    run_job()
    day = today() - dt.timedelta(days=12)
    import_members(business, ["mobile,first_name,points,joined_at\n", f"09121110001,Sara,1200,{day}\n",
                              "09121110002,Reza,35,\n"])
    import_purchases(business, ["receipt,mobile,branch,occurred_at,total\n",
                                f"I-1,09121110001,t1,{day},3000000\n",
                                f"I-2,09121110002,v2,{today() - dt.timedelta(days=4)}T18:30:00+03:30,250000\n"])
    assert_accounting_exact(business, monkeypatch)
    assert_branches_exact(business, monkeypatch)
    run_job()
    assert_accounting_exact(business, monkeypatch)
    assert_branches_exact(business, monkeypatch)
    assert BranchDay.objects.filter(business=business, day=day).get().revenue == 3_000_000


def test_the_job_is_idempotent_and_its_increments_equal_a_rebuild(business, history, member):
    run_job()
    record_purchase(business, member_id=member.pk, branch_code="v2", receipt="L1", total=600_000,
                    occurred_at=days_ago(2))
    run_job()
    once = kept_rows(business)
    run_job()
    assert kept_rows(business) == once
    ReportRollup.objects.filter(business=business).delete()
    run_job()  # from nothing: every entry and closed day at once
    assert kept_rows(business) == once


def test_a_run_overtaken_by_another_writes_nothing(business, history, member, monkeypatch):
    """Two workers at once: the one that read first and wrote second takes nothing in twice."""
    run_job()
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="O1", total=800_000,
                    occurred_at=days_ago(5))
    marks = rollups.safe_marks()
    real = rollups._branch_days

    def overtaken(*args):
        monkeypatch.setattr(rollups, "_branch_days", real)
        assert rollups.roll_up(business, marks) is not None  # the other run, between this one's reads and write
        return real(*args)

    monkeypatch.setattr(rollups, "_branch_days", overtaken)
    assert rollups.roll_up(business, marks) is None
    once = kept_rows(business)
    ReportRollup.objects.filter(business=business).delete()
    run_job()
    assert kept_rows(business) == once


def test_another_time_zone_starts_the_rollup_over(business, history, monkeypatch):
    run_job()
    business.timezone = "UTC"
    business.save(update_fields=["timezone"])
    assert selectors.rollup_of(business) is None  # meanwhile everything is read live
    run_job()
    assert ReportRollup.objects.get(business=business).timezone == "UTC"
    rows = selectors.points_accounting(business, today() - dt.timedelta(days=29), today(), CURRENCIES)
    assert rows == live_only(monkeypatch, lambda: selectors.points_accounting(
        business, today() - dt.timedelta(days=29), today(), CURRENCIES))


def test_the_branch_report_page_reads_the_rollup(signed_in, business, history):
    run_job()
    html = signed_in("owner").get("/panel/reports/branches?sort=-purchases").content.decode()
    assert "تجریش" in html and "ونک" in html


@pytest.mark.django_db(transaction=True)
def test_no_mark_passes_a_write_still_in_flight(business, member):
    """PostgreSQL hands out ids before their transactions commit: while a write is open the marks are not read
    (the next run tries again), so no id below a mark can appear later."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time, in id order")
    written, release = threading.Event(), threading.Event()

    def open_write() -> None:
        try:
            with transaction.atomic():
                adjust(business, member.pk, "points", 5, reason="هدیه")
                written.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=open_write)
    writer.start()
    assert written.wait(10)
    try:
        assert rollups.safe_marks() is None
        assert run_job() == "writes in flight; next run"
    finally:
        release.set()
        writer.join()
    marks = rollups.safe_marks()
    assert marks is not None and marks[0] == ledger_last_entry_id()


def ledger_last_entry_id() -> int:
    from vafa.ledger.models import Entry

    return Entry.objects.order_by("-pk").values_list("pk", flat=True)[0]
