"""The activity counters (issue 11): what the program reads of a member's history, kept by the writes.

Each purchase, visit, effect and return adds its change to rows per (member, name, UTC day) and to the name's
all-time row (day TOTAL) in one upsert. A read is one statement: all-time rows by key, and a window (a cap
period, the rolling tier window) as the sum of its whole days' rows plus the raw rows of the at most two
partial days at its edges, so the numbers are exactly the aggregates over purchases, visits and effects that
they replace, at any length of history. `check_counters` proves it; `rebuild_counters` (the backfill
migration, `vafa counters rebuild`) writes them from the rows.

Names: `purchases` and `spend` (counted purchases: their number and spend), `visits`, `earned_points` (points
earn effects, less what returns reversed) and `rule:<rule id>` (every effect of the rule, less reversals).
Hand-written SQL, the same text on SQLite and PostgreSQL (tests/purchases/test_counters.py runs on both).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate

from vafa.core.sql import WritePlan, adapter, next_id_sql, values_list, vendor
from vafa.ledger.selectors import load_parts_at, loaded_balances
from vafa.ledger.services import keep_accounts
from vafa.program import derived
from vafa.program.document import ProgramDocument
from vafa.program.engine import Context, cap_period_start, capped_rules, snapshot_needs
from vafa.purchases.models import ActivityCounter, Purchase, RewardEffect, Visit

TOTAL = dt.date(1, 1, 1)
PURCHASES, SPEND, VISITS, EARNED_POINTS = "purchases", "spend", "visits", "earned_points"
COUNTED = ("completed", "partially_returned")  # Purchase.COUNTED, without importing the models here


def rule_name(rule_id: str) -> str:
    return f"rule:{rule_id}"


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


# --- writing -------------------------------------------------------------------------------------------------


@dataclass
class Changes:
    """Counter changes of one use case, written together (write)."""

    business_id: int
    rows: dict[tuple[int, str, dt.date], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, member_id: int, name: str, at: dt.datetime, amount: int) -> None:
        if amount:
            self.rows[(member_id, name, day_of(at))] += amount
            self.rows[(member_id, name, TOTAL)] += amount

    def purchase(self, member_id: int, at: dt.datetime, before: tuple[bool, int], after: tuple[bool, int]) -> None:
        """A purchase's (counted, spend) changed from `before` to `after` ((False, 0): not there)."""
        self.add(member_id, PURCHASES, at, int(after[0]) - int(before[0]))
        self.add(member_id, SPEND, at, (after[1] if after[0] else 0) - (before[1] if before[0] else 0))

    def effect(self, member_id: int, at: dt.datetime, kind: str, rule_id: str, currency: str, amount: int) -> None:
        """An effect's amount less its reversals changed by `amount`."""
        self.add(member_id, rule_name(rule_id), at, amount)
        if kind == "earn" and currency == "points":
            self.add(member_id, EARNED_POINTS, at, amount)

    def total(self, member_id: int, name: str) -> int:
        return self.rows.get((member_id, name, TOTAL), 0)

    def write(self, plan: WritePlan | None = None) -> None:
        """One upsert for every row, in key order (the member's lock is held; the order is for safety): into the
        use case's write `plan`, or written now."""
        rows = sorted((key, amount) for key, amount in self.rows.items() if amount)
        if not rows:
            return
        params: list = []
        date = _day_adapter(vendor())
        for (member_id, name, day), amount in rows:
            params += [self.business_id, member_id, name, date(day), amount]
        now = plan is None
        plan = WritePlan() if plan is None else plan
        plan.add(_upsert_sql(len(rows)), params)
        if now:
            plan.write()


@functools.cache
def _upsert_sql(rows: int) -> str:
    return ("INSERT INTO purchases_activitycounter (business_id, member_id, name, day, value) VALUES "
            f"{values_list(rows, 5)} ON CONFLICT (business_id, member_id, name, day) "
            "DO UPDATE SET value = purchases_activitycounter.value + excluded.value")


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """A member's counters before an activity: what the engine's snapshot and the tier metric read."""

    purchase_count: int
    visit_count: int
    period_totals: dict[str, int]
    tier_metric: int  # over the tier window ending at the moment read (0 without tiers)
    earlier_purchase_id: int = 0  # the purchase that already holds the receipt asked about (0: none)
    reward_keys: frozenset[str] = frozenset()  # the keys of the member's rewards not revoked, when the program reads them


def _no_row(vendor: str) -> str:
    """The row columns of an aggregate part, typed: PostgreSQL matches a UNION's column types pair by pair, and
    an untyped NULL beside another is text."""
    if vendor != "postgresql":
        return "NULL, NULL, NULL, NULL, NULL"
    return ("CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS TIMESTAMPTZ), "
            "CAST(NULL AS TIMESTAMPTZ)")


# The statement's text is made once per shape (the parts' texts in order: what the program reads, and where the
# windows' edges fall); the parts' values are parameters. Bounded: a few shapes per program in use. Each part's
# text is made once per database (the functools.cache'd functions below), so a load builds no text of its own.
_STATEMENTS: dict[tuple[str, ...], str] = {}  # the parts' texts → the UNION ALL
_SHAPES_KEPT = 2_000


@functools.cache
def _aggregate(vendor: str, sql: str) -> str:
    """An aggregate part `<value> FROM …` with the row columns (rows) left empty. PostgreSQL: the value as a
    bigint (a SUM of bigints is numeric), so that every part answers the UNION's own column types and none
    needs a conversion step (a Subquery Scan of its own) in the plan (docs/benchmarks.md, pg-write)."""
    value, rest = sql.split(" FROM ", 1)
    if vendor == "postgresql":
        value = f"CAST({value} AS BIGINT)"
    return f"{value}, {_no_row(vendor)} FROM {rest}"


@functools.cache
def _counter_text(vendor: str, days: str) -> str:
    """A counter part; `days` the condition on the day."""
    return _aggregate(vendor, "COALESCE(SUM(value), 0) FROM purchases_activitycounter WHERE business_id = %s AND "
                              f"member_id = %s AND name = %s AND {days}")


@functools.cache
def _raw_text(vendor: str, name: str, start_in: bool, end_in: bool) -> str:
    """A part summing `name` (a rule's: "rule:") over the rows themselves in a range of moments."""
    when = f"occurred_at {'>=' if start_in else '>'} %s AND occurred_at {'<=' if end_in else '<'} %s"
    owner = "WHERE business_id = %s AND member_id = %s AND "
    if name in (PURCHASES, SPEND):
        what = "COUNT(*)" if name == PURCHASES else "COALESCE(SUM(spend), 0)"
        return _aggregate(vendor, f"{what} FROM purchases_purchase {owner}status IN (%s, %s) AND {when}")
    if name == VISITS:
        return _aggregate(vendor, f"COUNT(*) FROM purchases_visit {owner}{when}")
    which = "kind = %s AND currency = %s" if name == EARNED_POINTS else "rule_id = %s"
    return _aggregate(vendor, f"COALESCE(SUM(amount - reversed_amount), 0) FROM purchases_rewardeffect "
                              f"{owner}{which} AND {when}")


_RECEIPT = "COALESCE(MAX(id), 0) FROM purchases_purchase WHERE business_id = %s AND branch_id = %s AND receipt = %s"


class _Slot:
    """A parameter of a load's shape (_LoadShape) that each load fills in: `index` into its values."""

    def __init__(self, index: int):
        self.index = index


_BUSINESS, _MEMBER, _BRANCH, _RECEIPT_NO, _AT, _SINCE = (_Slot(i) for i in range(6))


class _Query:
    """One statement: a UNION ALL of parts `SELECT <part>, SUM(...) FROM ... WHERE business, member, ...`,
    summed per part here. `shaping`: its parameters that vary from load to load left as slots (_LoadShape): the
    owner's ids, and the moments registered by `vary` (the load's own, where a window starts)."""

    def __init__(self, business_id: int | _Slot, member_id: int | _Slot, *, shaping: bool = False):
        self.parts: list[str] = []
        self.params: list = []
        self.owner = [business_id, member_id]
        self.vendor, self.ops = connection.vendor, connection.ops
        self.varying: dict[int, tuple[dt.datetime, _Slot]] | None = {} if shaping else None

    def vary(self, moment: dt.datetime, slot: _Slot) -> None:
        """`moment` is given to the statement as `slot` when shaping (a value of its own in each load)."""
        if self.varying is not None:
            self.varying[id(moment)] = (moment, slot)

    def moment(self, value: dt.datetime):
        """A moment as the statement's parameter: as the database takes it, or its slot."""
        if self.varying:
            held = self.varying.get(id(value))
            if held is not None and held[0] is value:
                return held[1]
        return self.ops.adapt_datetimefield_value(value)

    def rows(self, sql: str, params: list) -> int:
        """A part of rows `value, id, text, text, moment, moment FROM …` (the ledger's accounts and lots)."""
        self.parts.append(sql)
        self.params += params
        return len(self.parts) - 1

    def statement(self) -> str:
        shape = tuple(self.parts)
        text = _STATEMENTS.get(shape)
        if text is None:
            if len(_STATEMENTS) >= _SHAPES_KEPT:
                _STATEMENTS.clear()
            text = _STATEMENTS[shape] = " UNION ALL ".join(
                f"SELECT {i} AS part, {part}" for i, part in enumerate(self.parts))
        return text

    def counter(self, name: str, first: dt.date, last: dt.date | None = None) -> list[int]:
        """The counter rows of `name` from day `first` to `last` (None: onwards; first TOTAL: the total)."""
        date = self.ops.adapt_datefield_value
        if first == TOTAL:
            days, params = "day = %s", [date(TOTAL)]
        elif last is None:
            days, params = "day >= %s", [date(first)]
        elif first > last:
            return []
        else:
            days, params = "day >= %s AND day <= %s", [date(first), date(last)]
        return [self.rows(_counter_text(self.vendor, days), [*self.owner, name, *params])]

    def raw(self, name: str, ranges: list[tuple[dt.datetime, bool, dt.datetime, bool]]) -> list[int]:
        """`name` summed over the purchases, visits or effects themselves, in each (start, start included, end,
        end included) range: the partial days at a window's edges."""
        moment = self.moment
        if name in (PURCHASES, SPEND):
            which = COUNTED
        elif name == VISITS:
            which = ()
        else:
            which = ("earn", "points") if name == EARNED_POINTS else (name.removeprefix("rule:"),)
        text_name = name if name in (PURCHASES, SPEND, VISITS, EARNED_POINTS) else "rule:"
        parts = []
        for start, start_in, end, end_in in ranges:
            if start > end or (start == end and not (start_in and end_in)):
                continue  # an empty range
            parts.append(self.rows(_raw_text(self.vendor, text_name, start_in, end_in),
                                   [*self.owner, *which, moment(start), moment(end)]))
        return parts

    def window(self, name: str, start: dt.datetime, start_in: bool, end: dt.datetime | None) -> list[int]:
        """`name` over the moments from `start` to `end` (None: onwards): whole days from the counters, the
        partial ones at the edges from the rows."""
        first = day_of(start) if start_in and start == _midnight(day_of(start)) else day_of(start) + dt.timedelta(1)
        if end is None:
            return self.counter(name, first) + self.raw(name, [(start, start_in, _midnight(first), False)])
        last = day_of(end) - dt.timedelta(1)
        if first > last + dt.timedelta(1):  # start and end on one day: no whole day between
            return self.raw(name, [(start, start_in, end, True)])
        return (self.counter(name, first, last)
                + self.raw(name, [(start, start_in, _midnight(first), False),
                                  (_midnight(day_of(end)), True, end, True)]))

    def receipt(self, branch_id: int, receipt: str) -> list[int]:
        """The id of the business's purchase with this receipt at this branch, whoever's (0: none)."""
        return [self.rows(_aggregate(self.vendor, _RECEIPT), [self.owner[0], branch_id, receipt])]

    def run(self) -> tuple[list[int], dict[int, list[tuple]]]:
        """Each part's value (an aggregate's sum; 0 for a part of rows), and the rows of each part of rows."""
        if not self.parts:
            return [], defaultdict(list)
        with connection.cursor() as cursor:
            cursor.execute(self.statement(), self.params)
            return _read(len(self.parts), cursor.fetchall())


def _read(parts: int, rows: list[tuple]) -> tuple[list[int], dict[int, list[tuple]]]:
    """_Query.run's answer from the statement's rows (read elsewhere: the purchase's, beside its lock)."""
    found: dict[int, list[tuple]] = defaultdict(list)
    values = [0] * parts
    for part, value, *row in rows:
        if row[0] is None:
            values[part] = int(value or 0)
        else:
            found[part].append((int(value), *row))
    return values, found


def standing(member, document: ProgramDocument, at: dt.datetime, ctx: Context,
             receipt: tuple[int, str] | None = None) -> Standing:
    """The member's counts, cap-period totals and tier metric as of `at`, in one statement; with `receipt`
    (branch id, receipt), in the same statement, the purchase that already holds it."""
    query = _Query(member.business_id, member.pk)
    read = _standing_parts(query, document, at, ctx, receipt)
    return read(*query.run())


@dataclass(frozen=True)
class Loaded:
    """What a purchase's decision reads, in one statement (load): the counters, the balances as of its moment
    (what is due by then counted in), and the id its row will have (0: not taken)."""

    standing: Standing
    balances: dict[str, dict[str, int]]
    purchase_id: int = 0


class Load:
    """A purchase's load as one statement (`sql`, `params`), to send right after the member's lock in the same
    round trip (core.sql.read_all); `finish` reads its rows. A visit's or an event's is the same without a
    receipt (None), taking the id of its own `table`. Its parts depend on the program (`document`) and
    on ids only, so it is built before the lock: the caller builds it again when the lock's cache token says
    the program changed meanwhile. Its text and most parameters come from the shape kept for the program and
    the moment's day (_LoadShape); the load fills in what is its own."""

    def __init__(self, business_id: int, member_id: int, document: ProgramDocument, at: dt.datetime, ctx: Context,
                 receipt: tuple[int, str] | None, *, take_id: bool, table: str = "purchases_purchase"):
        self.at = at
        self.shape = shape = _load_shape(document, at, ctx, receipt is not None, take_id, table)
        adapt = _moment_adapter(shape.vendor)
        given = (business_id, member_id, *(receipt or (None, None)), adapt(at),
                 adapt(at - dt.timedelta(days=document.tiers.window_days)) if document.tiers else None)
        self.sql, self.params = shape.sql, shape.params.copy()
        for i, slot in shape.slots:
            self.params[i] = given[slot]

    def finish(self, member, rows: list[tuple]) -> Loaded:
        shape = self.shape
        values, found = _read(shape.parts, rows)
        if shape.take_id:  # the write follows: the accounts kept for it (a dry run writes nothing)
            keep_accounts(member, found[shape.own], found[shape.business_side])
        return Loaded(shape.read(values, found), loaded_balances(found[shape.own], found[shape.due], self.at),
                      values[shape.taken] if shape.take_id else 0)


class _LoadShape:
    """A load's statement with the parameters that vary from load to load left as slots (`slots`: (position,
    the index of its value)), the parts it reads, and how Standing is read from their values. What it holds
    depends only on the program, the days (UTC and the business's) of the load's moment, and the statement's
    options (the parts' texts and the windows' edges: see window), so it is made once per program and day."""

    def __init__(self, document: ProgramDocument, at: dt.datetime, ctx: Context, receipt: bool, take_id: bool,
                 table: str):
        self.take_id = take_id
        query = _Query(_BUSINESS, _MEMBER, shaping=True)
        self.vendor = query.vendor
        query.vary(at, _AT)
        self.read = _standing_parts(query, document, at, ctx, (_BRANCH, _RECEIPT_NO) if receipt else None)  # type: ignore[arg-type]
        self.own, self.business_side, self.due = (query.rows(sql, params)
                                                  for sql, params in load_parts_at(_BUSINESS, _MEMBER, _AT))  # type: ignore[arg-type]
        self.taken = query.rows(_next_id_sql(query.vendor, table), []) if take_id else -1
        self.sql, self.params, self.parts = query.statement(), query.params, len(query.parts)
        self.slots = [(i, value.index) for i, value in enumerate(self.params) if isinstance(value, _Slot)]


@functools.cache
def _moment_adapter(vendor: str):
    """A moment as the database takes it: core.sql's plain function for a DateTimeField, the same value as
    connection.ops.adapt_datetimefield_value gives (tests/core/test_sql.py), without its calls."""
    adapt = adapter(Purchase._meta.get_field("occurred_at"), vendor)
    assert adapt is not None
    return adapt


@functools.cache
def _day_adapter(vendor: str):
    """A counter's day as the database takes it: what connection.ops.adapt_datefield_value gives, without the
    connection's thread-local lookups (core.sql.vendor)."""
    adapt = adapter(ActivityCounter._meta.get_field("day"), vendor)
    assert adapt is not None
    return adapt


_LOAD_SHAPES_KEPT = 512  # per program: its days and options


def _load_shape(document: ProgramDocument, at: dt.datetime, ctx: Context, receipt: bool, take_id: bool,
                table: str) -> _LoadShape:
    """The load's shape, kept per program version (program.derived) and day."""
    shapes = derived.of(document).setdefault("load_shapes", {})
    # the cap periods start on the business's day, the counters' rows and the tier window's edges fall on UTC's
    key = (vendor(), day_of(at), at.astimezone(ZoneInfo(ctx.timezone)).date(), ctx, receipt, take_id,
           table)
    shape = shapes.get(key)
    if shape is None:
        if len(shapes) >= _LOAD_SHAPES_KEPT:
            shapes.clear()
        shape = shapes[key] = _LoadShape(document, at, ctx, receipt, take_id, table)
    return shape


def load(member, document: ProgramDocument, at: dt.datetime, ctx: Context, receipt: tuple[int, str], *,
         take_id: bool) -> Loaded:
    """A purchase's load after the member's lock, in one statement: standing (the receipt asked about
    included), the member's accounts (kept on the member for the ledger's writes), the business's own, the
    lots due by `at`, and with `take_id` (the write follows: a dry run has none) the purchase's id, taken up
    front so that every row the purchase writes can refer to it, and the accounts kept for the write."""
    pending = Load(member.business_id, member.pk, document, at, ctx, receipt, take_id=take_id)
    with connection.cursor() as cursor:
        cursor.execute(pending.sql, pending.params)
        return pending.finish(member, cursor.fetchall())


def _next_id_sql(vendor: str, table: str) -> str:
    """The next id of `table` (a purchase's, a visit's, an event's), as a part of the load (its row columns
    empty)."""
    return f"{next_id_sql(vendor, table)}, {_no_row(vendor)}"


def _standing_parts(query: _Query, document: ProgramDocument, at: dt.datetime, ctx: Context,
                    receipt: tuple[int, str] | None):
    """Standing's parts added to `query`; answers the function that reads Standing from the query's values."""
    earlier = query.receipt(*receipt) if receipt else []
    purchases, visits = query.counter(PURCHASES, TOTAL), query.counter(VISITS, TOTAL)
    caps = {}
    for rule_id, period in capped_rules(document).items():
        start = cap_period_start(period, at, ctx)
        caps[rule_id] = (query.counter(rule_name(rule_id), TOTAL) if start is None
                         else query.window(rule_name(rule_id), start, True, None))
    tier = _tier_parts(query, document, at)
    rewards = (query.rows(_reward_keys_sql(query.vendor), [*query.owner, "revoked"])
               if snapshot_needs(document)[1] else None)

    def read(values: list[int], found: dict[int, list[tuple]]) -> Standing:
        def total(parts: list[int]) -> int:
            return sum(values[part] for part in parts)

        keys = frozenset(row[2] for row in found[rewards]) if rewards is not None else frozenset()
        return Standing(total(purchases), total(visits), {rule_id: total(parts) for rule_id, parts in caps.items()},
                        total(tier), total(earlier), keys)

    return read


@functools.cache
def _reward_keys_sql(vendor: str) -> str:
    """The keys of the member's rewards not revoked (the stamps and sequences they have earned), as a part of
    rows (value, id, key, …) of the load."""
    if vendor == "postgresql":  # the UNION's column types exactly (see _aggregate)
        return ("CAST(0 AS BIGINT), id, CAST(key AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS TIMESTAMPTZ), "
                "CAST(NULL AS TIMESTAMPTZ) FROM purchases_issuedreward WHERE business_id = %s AND member_id = %s AND "
                "status <> %s")
    return "0, id, key, NULL, NULL, NULL FROM purchases_issuedreward WHERE business_id = %s AND member_id = %s AND status <> %s"


def tier_metric(member, document: ProgramDocument, at: dt.datetime) -> int:
    """The member's standing on the tier basis over the rolling window ending at `at`; returns included."""
    query = _Query(member.business_id, member.pk)
    _tier_parts(query, document, at)
    return sum(query.run()[0])


def tier_metric_query(business_id: int, member_id: int, document: ProgramDocument,
                      at: dt.datetime) -> tuple[str, list] | None:
    """tier_metric's statement as (sql, params), for a caller that sends it inside its own: the second column of
    its rows adds up to the metric. None: the program has no tiers (the metric is 0). Its text and fixed
    parameters kept per program version and day (_TierShape); only the owner and the moments filled in here."""
    if not document.tiers:
        return None
    shapes = derived.of(document).setdefault("tier_shapes", {})
    key = (vendor(), day_of(at))  # the window's whole days and edges fall on UTC's days
    shape = shapes.get(key)
    if shape is None:
        if len(shapes) >= _LOAD_SHAPES_KEPT:
            shapes.clear()
        shape = shapes[key] = _TierShape(document, at)
    adapt = _moment_adapter(shape.vendor)
    given = (business_id, member_id, None, None, adapt(at), adapt(at - dt.timedelta(days=document.tiers.window_days)))
    params = shape.params.copy()
    for i, slot in shape.slots:
        params[i] = given[slot]
    return shape.sql, params


class _TierShape:
    """tier_metric_query's statement with the owner and the moments left as slots, like _LoadShape's."""

    def __init__(self, document: ProgramDocument, at: dt.datetime):
        query = _Query(_BUSINESS, _MEMBER, shaping=True)
        self.vendor = query.vendor
        query.vary(at, _AT)
        _tier_parts(query, document, at)
        self.sql, self.params = query.statement(), query.params
        self.slots = [(i, value.index) for i, value in enumerate(self.params) if isinstance(value, _Slot)]


def _tier_parts(query: _Query, document: ProgramDocument, at: dt.datetime) -> list[int]:
    if not document.tiers:
        return []
    start = at - dt.timedelta(days=document.tiers.window_days)
    query.vary(start, _SINCE)
    return [part for name in tier_names(document) for part in query.window(name, start, False, at)]


def tier_names(document: ProgramDocument) -> tuple[str, ...]:
    """The counters the tier basis sums: spend, points earned, or visits and purchases."""
    if not document.tiers:
        return ()
    return {"spend": (SPEND,), "points": (EARNED_POINTS,)}.get(document.tiers.basis, (VISITS, PURCHASES))


# --- the proof and the backfill --------------------------------------------------------------------------------


def expected_counters(purchase_model, visit_model, effect_model, business_id: int | None = None,
                      purchases_only: bool = False) -> dict[tuple[int, int, str, dt.date], int]:
    """The counters as the rows say they should be: (business, member, name, day) → value, zeros left out.
    Takes the models so the backfill migration can pass its historical ones. `purchases_only`: the purchase
    counters alone (after a bulk import of purchases)."""
    def scoped(model):
        rows = model.objects.all() if business_id is None else model.objects.filter(business_id=business_id)
        return rows.annotate(utc_day=TruncDate("occurred_at", tzinfo=dt.UTC))

    out: dict[tuple[int, int, str, dt.date], int] = defaultdict(int)

    def add(business: int, member: int, name: str, day: dt.date, value: int | None) -> None:
        if value:
            out[(business, member, name, day)] += value
            out[(business, member, name, TOTAL)] += value

    for row in (scoped(purchase_model).filter(status__in=COUNTED).values("business_id", "member_id", "utc_day")
                .annotate(n=Count("id"), spend=Sum("spend"))):
        add(row["business_id"], row["member_id"], PURCHASES, row["utc_day"], row["n"])
        add(row["business_id"], row["member_id"], SPEND, row["utc_day"], row["spend"])
    if purchases_only:
        return {key: value for key, value in out.items() if value}
    for row in scoped(visit_model).values("business_id", "member_id", "utc_day").annotate(n=Count("id")):
        add(row["business_id"], row["member_id"], VISITS, row["utc_day"], row["n"])
    for row in (scoped(effect_model).values("business_id", "member_id", "utc_day", "rule_id", "kind", "currency")
                .annotate(n=Sum(F("amount") - F("reversed_amount")))):
        add(row["business_id"], row["member_id"], rule_name(row["rule_id"]), row["utc_day"], row["n"])
        if row["kind"] == "earn" and row["currency"] == "points":
            add(row["business_id"], row["member_id"], EARNED_POINTS, row["utc_day"], row["n"])
    return {key: value for key, value in out.items() if value}


def check_counters(business_id: int | None = None) -> list[str]:
    """Every counter that differs from the rows it sums, as readable lines; empty when they all agree."""
    expected = expected_counters(Purchase, Visit, RewardEffect, business_id)
    rows = ActivityCounter.objects.all() if business_id is None else ActivityCounter.objects.filter(
        business_id=business_id)
    problems = []
    for business, member, name, day, value in rows.values_list("business_id", "member_id", "name", "day", "value"):
        want = expected.pop((business, member, name, day), 0)
        if value != want:
            problems.append(f"member {member} {name} {day}: counter {value} != rows {want}")
    problems += [f"member {member} {name} {day}: no counter, rows {value}"
                 for (_, member, name, day), value in sorted(expected.items())]
    return problems


def rebuild_counters(counter_model, purchase_model, visit_model, effect_model,
                     business_id: int | None = None, purchases_only: bool = False) -> int:
    """Write the counters from the rows (the backfill; a bulk import of purchases, `purchases_only`): answers
    how many rows were written."""
    rows = counter_model.objects.all() if business_id is None else counter_model.objects.filter(
        business_id=business_id)
    if purchases_only:
        rows = rows.filter(name__in=(PURCHASES, SPEND))
    rows.delete()
    expected = expected_counters(purchase_model, visit_model, effect_model, business_id, purchases_only)
    counter_model.objects.bulk_create(
        [counter_model(business_id=business, member_id=member, name=name, day=day, value=value)
         for (business, member, name, day), value in expected.items()], batch_size=2000)
    return len(expected)
