"""The `report_rollups` job: keeps the rows two reports sum over a range of days, so that at a million members a
page reads a few hundred kept rows and today live instead of every entry or purchase of the range (issue 15).

- LedgerDay (points accounting): entries are never changed or deleted, so the rows are the sum of every entry
  up to ReportRollup.entry_mark. Each run adds the entries after the mark to the day each is dated (a backdated
  purchase, an imported history or the return of an old purchase lands on its own day) and moves the mark; the
  report adds the entries after the mark live. Each entry is counted once, whatever its date.
- BranchDay (branch performance): purchases change (a return lowers spend or stops one counting) and a day's
  visits (distinct members) are not a sum, so the rows are whole closed days, up to purchases_through
  (yesterday). Each run recomputes the days after purchases_through and every kept day a purchase or return
  after the marks is dated on; the report reads those and today live.

The marks are ids below which every write has committed (safe_marks), so nothing is taken in twice or missed;
a run takes in only what came since the last one, and running it again changes nothing. Nothing is added to the
purchase path: the job finds what changed by id."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from vafa.ledger.models import Entry
from vafa.panel import selectors
from vafa.panel.models import BranchDay, LedgerDay, ReportRollup
from vafa.purchases.models import Purchase, Return
from vafa.tenancy.models import Business

LOCK_TIMEOUT = "200ms"  # PostgreSQL: how long the marks may hold new writes back before this run gives up


def safe_marks() -> tuple[int, int, int] | None:
    """The newest entry, purchase and return ids, read when no write is in flight: every row up to them is
    committed. SQLite writes one transaction at a time, in id order. On PostgreSQL an id is taken at insert but
    may commit after a later one, so the three tables are locked in SHARE mode for the read (it waits for the
    writes in flight, at most LOCK_TIMEOUT; None when they take longer, e.g. an import: the next run tries
    again, and the reports read what is newer than the last marks live meanwhile)."""
    tables = (Entry, Purchase, Return)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
                    cursor.execute(f"LOCK TABLE {names} IN SHARE MODE")
            entry, purchase, returned = (m.objects.aggregate(top=Max("pk"))["top"] or 0 for m in tables)
    except OperationalError:
        return None
    return entry, purchase, returned


def _position(state: ReportRollup | None) -> tuple | None:
    """How far a rollup reached, to tell whether another run moved it meanwhile."""
    return state and (state.timezone, state.entry_mark, state.purchase_mark, state.return_mark,
                      state.purchases_through)


def roll_up(business, marks: tuple[int, int, int], now: dt.datetime | None = None) -> ReportRollup | None:
    """Take in a business's entries, purchases and returns up to `marks` (safe_marks). The sums are read first,
    outside any transaction (at a million members the first run reads the whole history: on SQLite a write
    transaction would hold every purchase back meanwhile), then written in one short transaction, unless
    another run moved the rollup since it was read (None: that run took this in)."""
    now = now or timezone.now()
    zone = ZoneInfo(business.timezone)
    yesterday = now.astimezone(zone).date() - dt.timedelta(days=1)
    entry_mark, purchase_mark, return_mark = marks
    read = ReportRollup.objects.filter(business=business).first()
    fresh = read is None or read.timezone != business.timezone  # the first run, or days in another zone
    state = (ReportRollup(pk=read and read.pk, business=business, timezone=business.timezone)
             if fresh or read is None else read)
    after = state.entry_mark
    flows = (selectors.ledger_flows(Entry.objects.filter(business=business, pk__gt=after, pk__lte=entry_mark), zone)
             if entry_mark > after else {})
    days: set[dt.date] | None = None  # None: every closed day
    if state.purchases_through is not None:
        days = selectors.touched_days(business, zone, state.purchase_mark, state.return_mark, purchase_mark,
                                      return_mark)
        day = state.purchases_through + dt.timedelta(days=1)
        while day <= yesterday:
            days.add(day)
            day += dt.timedelta(days=1)
        days = {d for d in days if d <= yesterday}
    branch_days = _branch_days(business, zone, days, yesterday)
    with transaction.atomic():
        if _position(ReportRollup.objects.select_for_update().filter(business=business).first()) != _position(read):
            return None
        if fresh:
            LedgerDay.objects.filter(business=business).delete()
        _add_flows(business, flows)
        kept = BranchDay.objects.filter(business=business)
        (kept if days is None else kept.filter(day__in=days)).delete()
        BranchDay.objects.bulk_create(branch_days, batch_size=1000)
        state.entry_mark = max(entry_mark, state.entry_mark)
        state.purchase_mark, state.return_mark = max(purchase_mark, state.purchase_mark), max(return_mark, state.return_mark)
        state.purchases_through, state.rolled_at = yesterday, now
        state.save()
    return state


def _add_flows(business, flows: dict) -> None:
    """Add entries' flows (selectors.ledger_flows) to the LedgerDay rows of their days."""
    kept = {(row.currency, row.day): row for row in
            LedgerDay.objects.filter(business=business, day__in={day for _c, day in flows})}
    new = []
    for key, cell in flows.items():
        row = kept.get(key)
        if row is None:
            new.append(row := LedgerDay(business=business, currency=key[0], day=key[1]))
        for flow in selectors.ACCOUNTING_FLOWS:
            setattr(row, flow, getattr(row, flow) + getattr(cell, flow))
    LedgerDay.objects.bulk_update([row for key, row in kept.items() if key in flows], selectors.ACCOUNTING_FLOWS,
                                  batch_size=500)
    LedgerDay.objects.bulk_create(new, batch_size=500)


def _branch_days(business, zone: ZoneInfo, days: set[dt.date] | None, yesterday: dt.date) -> list[BranchDay]:
    """The BranchDay rows of `days` (None: every day up to `yesterday`) from the purchases."""
    purchases = Purchase.objects.filter(business=business)
    if days is None:
        purchases = purchases.filter(occurred_at__lt=dt.datetime.combine(yesterday + dt.timedelta(days=1),
                                                                         dt.time.min, tzinfo=zone))
    elif not days:
        return []
    else:
        purchases = purchases.filter(selectors.day_ranges(days, zone))
    return [BranchDay(business=business, branch_id=row.pop("branch_id"), **row)
            for row in selectors.branch_sums(purchases, zone)]


def roll_up_reports(now: dt.datetime | None = None) -> str:
    """The job: every business, once the marks can be read."""
    marks = safe_marks()
    if marks is None:
        return "writes in flight; next run"
    businesses = 0
    for business in Business.objects.order_by("pk"):
        roll_up(business, marks, now)
        businesses += 1
    return f"{businesses} businesses"
