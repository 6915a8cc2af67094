"""Reports (F60): each a Table (filters, a Jalali date range where the rows are dated, sorting, paging and
exactly-the-filtered-rows export), some with a Chart.js picture of their top rows. Grouped reports are
aggregate queries (values + annotate) on indexed columns; the points accounting and branch reports are computed
per day from rollups kept by the report_rollups job plus what is newer read live (panel.rollups,
panel.selectors.points_accounting and branch_performance)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.access.models import AuditEvent, Scope
from vafa.access.permissions import Forbidden
from vafa.core.calendar import format_date
from vafa.ledger.models import Entry, Lot
from vafa.ledger.selectors import CURRENCIES
from vafa.members.models import Card, Commission, Member
from vafa.messaging.models import Message
from vafa.panel import selectors
from vafa.panel.auth import panel_view
from vafa.panel.labels import LABELS, label
from vafa.panel.tables import PAGE_SIZE, CappedPaginator, Column, Filter, Table
from vafa.panel.templatetags.panel import actor, num
from vafa.purchases.models import Purchase, PurchaseLine
from vafa.vouchers.models import Redemption

CHART_ROWS = 12


@dataclass(frozen=True)
class Choice:
    """A filter on one field by one of its stored values, offered with the panel's labels for those values (the
    labels' keys are the values accepted; anything else is ignored)."""

    param: str
    title: str
    labels: str  # a kind of labels.LABELS

    def as_filter(self) -> Filter:
        return Filter(self.param, self.title, [(k, label(self.labels, k)) for k in LABELS[self.labels]])

    def value(self, params) -> str | None:
        value = params.get(self.param)
        return value if value in LABELS[self.labels] else None


STATUS = gettext_lazy("Status")
CURRENCY = Choice("currency", gettext_lazy("Currency"), "currency")


def grouped(key: str, title, kind: str = "text") -> Column:
    """A column of an aggregate row (a dict), sortable by its own name."""
    return Column(key, title, sort=key, kind=kind, get=itemgetter(key))


def member_url(row) -> str:
    return reverse("panel:member", args=[row.member_id])


def member_name(row) -> str:
    return row.member.full_name or row.member.code


class Report(Table):
    """A report: a Table with a title, an optional date range on `date_field`, the operator's branches only
    where rows belong to a branch (`branch_field`), and a chart of (label column, value column)."""

    template = "panel/reports/report.html"
    searchable = False  # a report filters; the audit log also searches
    slug = ""
    title = gettext_lazy("Report")
    description = ""
    date_field: str | None = None
    branch_field: str | None = None
    group_by: tuple[str, ...] = ()  # an aggregate report: its rows are dicts grouped by these fields
    chart: tuple[str, str] | None = None
    chart_type = "bar"
    whole_business = False  # rows that belong to no branch: not for an operator bound to branches
    choices: tuple[Choice, ...] = ()  # filters by a stored value, applied to the field of the same name

    # A report that aggregates every purchase (or line) of its range opens on the last
    # `default_days`, shown in its date filters so the page says which period: over a large business's whole
    # history it is a scan of millions of rows per view.
    default_days: int | None = None

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = self.make_columns()
        self.filters = ([Filter("from", gettext_lazy("From"), kind="date"), Filter("to", gettext_lazy("To"), kind="date")]
                        if self.date_field else []) + [choice.as_filter() for choice in self.choices] + self.extra_filters()
        if self.default_days and not self.params.get("from") and not self.params.get("to"):
            today = timezone.now().astimezone(ZoneInfo(self.business.timezone)).date()
            self.params = self.params.copy()
            self.params["from"] = format_date(today - dt.timedelta(days=self.default_days - 1),
                                              self.business.calendar, "en")

    def make_columns(self) -> list[Column]:
        raise NotImplementedError

    def extra_filters(self) -> list[Filter]:
        return []

    def rows(self) -> QuerySet:
        """The report's own query before the common filters."""
        raise NotImplementedError

    def base_queryset(self) -> QuerySet:
        qs = self.rows()
        allowed = self.request.principal.branch_ids
        if self.branch_field and allowed is not None:
            qs = qs.filter(**{f"{self.branch_field}__in": allowed})
        return qs

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.date_field:
            qs = self.day_range(qs, self.date_field)
        for choice in self.choices:
            if (value := choice.value(self.params)) is not None:
                qs = qs.filter(**{choice.param: value})
        return self.refine(qs)

    def refine(self, qs: QuerySet) -> QuerySet:
        return qs

    def aggregate(self, qs: QuerySet) -> QuerySet:
        return qs

    def filtered(self) -> QuerySet:
        qs = self.apply(self.base_queryset())
        if self.group_by:
            qs = self.aggregate(qs.values(*self.group_by)).order_by()
        return qs.order_by(*self.ordering())

    def export_rows(self) -> Iterator[list]:
        rows = self.filtered()
        if not isinstance(rows, list):
            yield from super().export_rows()
            return
        for row in rows:  # a report whose rows are computed (branches, accounting)
            yield [self.export_value(c, row) for c in self.columns]

    def ordering(self) -> list[str]:
        if not self.group_by:
            return super().ordering()
        wanted = self.params.get("sort", "")
        if wanted.lstrip("-") in {c.key for c in self.columns if c.sort}:
            return [wanted, *self.group_by]  # the group keys break ties: a stable page order
        return [self.default_sort, *self.group_by]

    def chart_data(self) -> dict | None:
        if not self.chart:
            return None
        label_key, value_key = self.chart
        by_key = {c.key: c for c in self.columns}
        top = list(self.chart_rows())
        return {"type": self.chart_type, "label": str(by_key[value_key].title),
                "labels": [str(self.export_value(by_key[label_key], row) or "—") for row in top],
                "values": [by_key[value_key].value(row) for row in top]}

    def page(self):
        """A grouped report reads its groups once, for the page, the count and the chart alike: each is an
        aggregate over every row of the range (at a million members, a scan worth doing once a view)."""
        if not self.group_by:
            return super().page()
        self.groups = list(self.filtered())
        return CappedPaginator(self.groups, PAGE_SIZE).get_page(self.params.get("page"))

    def chart_rows(self):
        """The filtered rows with the largest values (at most CHART_ROWS rows; a grouped report's from its page's
        groups, ties in group order as the database sorts them)."""
        _, value_key = self.chart or ("", "")
        if self.group_by and hasattr(self, "groups"):
            return sorted(self.groups, key=lambda row: -(row[value_key] or 0))[:CHART_ROWS]
        qs = self.apply(self.base_queryset())
        if self.group_by:
            qs = self.aggregate(qs.values(*self.group_by)).order_by()
        return qs.order_by(f"-{value_key}", *self.group_by)[:CHART_ROWS]

    def respond(self, extra: dict | None = None):
        """A filter change swaps the table and, out of band, the chart: both show the same filtered rows."""
        if (self.request.headers.get("HX-Request") and self.request.headers.get("HX-Target") == "table"
                and not self.params.get("export")):
            return render(self.request, "panel/reports/fragment.html", self.context() | (extra or {}))
        return super().respond(extra)

    def context(self) -> dict:
        return super().context() | {"report": self, "chart": self.chart_data(), "reports": visible_reports(self.request)}


class MembersReport(Report):
    slug, title = "members", gettext_lazy("Members")
    description = gettext_lazy("Every member with their tier, status, source and join date.")
    date_field, default_sort = "joined_at", "-joined_at"
    choices = (Choice("status", STATUS, "member_status"),)

    def make_columns(self) -> list[Column]:
        return [
            Column("code", gettext_lazy("Member code"), sort="code", kind="ltr", link=lambda m: reverse("panel:member", args=[m.pk])),
            Column("name", gettext_lazy("Name"), sort="last_name", get=lambda m: m.full_name),
            Column("mobile", gettext_lazy("Mobile"), kind="phone"),
            Column("tier", gettext_lazy("Tier"), sort="tier", kind="tier"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:member_status"),
            Column("join_source", gettext_lazy("Source"), sort="join_source"),
            Column("joined_at", gettext_lazy("Joined"), sort="joined_at", kind="date"),
        ]

    def rows(self):
        return Member.objects.filter(business=self.business)


class CardsReport(Report):
    slug, title = "cards", gettext_lazy("Cards issued and lost")
    description = gettext_lazy("Cards issued in the period, and which were reported lost or replaced.")
    date_field, default_sort = "issued_at", "-issued_at"
    choices = (Choice("status", STATUS, "card_status"),)

    def make_columns(self) -> list[Column]:
        return [
            Column("number", gettext_lazy("Card number"), sort="number", kind="ltr"),
            Column("member", gettext_lazy("Member"), get=member_name, link=member_url),
            Column("kind", gettext_lazy("Kind"), sort="kind", kind="label:card_kind"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:card_status"),
            Column("issued_at", gettext_lazy("Issued"), sort="issued_at", kind="date"),
            Column("blocked_at", gettext_lazy("Lost or replaced"), sort="blocked_at", kind="date"),
        ]

    def rows(self):
        return Card.objects.filter(business=self.business).select_related("member")


class ItemSalesReport(Report):
    slug, title = "items", gettext_lazy("Item sales")
    description = gettext_lazy("Quantity and amount sold per item or per category, returns deducted.")
    date_field, branch_field, default_sort = "purchase__occurred_at", "purchase__branch_id", "-sales"
    default_days = 30

    def __init__(self, request) -> None:
        self.by_category = request.GET.get("by") == "category"
        self.group_by = ("category",) if self.by_category else ("sku", "name", "category")
        self.chart = ("category" if self.by_category else "name", "sales")
        super().__init__(request)

    def make_columns(self) -> list[Column]:
        key = [grouped("category", gettext_lazy("Category"))] if self.by_category else [
            grouped("sku", gettext_lazy("SKU"), "ltr"), grouped("name", gettext_lazy("Item")),
            grouped("category", gettext_lazy("Category"))]
        return key + [grouped("purchases", gettext_lazy("Purchases"), "num"), grouped("sold", gettext_lazy("Quantity"), "num"),
                      grouped("sales", gettext_lazy("Amount"), "money")]

    def extra_filters(self):
        return [Filter("by", gettext_lazy("Per"), [("sku", str(_("Item"))), ("category", str(_("Category")))])]

    def rows(self):
        return PurchaseLine.objects.filter(business=self.business, purchase__status__in=Purchase.COUNTED)

    def aggregate(self, qs):
        return qs.annotate(purchases=Count("purchase_id", distinct=True),
                           sold=Sum(F("quantity") - F("returned_quantity")),
                           sales=Sum(F("unit_price") * (F("quantity") - F("returned_quantity"))))


class ConversionsReport(Report):
    slug, title = "conversions", gettext_lazy("Credit conversions")
    description = gettext_lazy("Every conversion between currencies: what left and what arrived.")
    date_field, default_sort = "created_at", "-created_at"

    def make_columns(self) -> list[Column]:
        return [
            Column("created_at", gettext_lazy("When"), sort="created_at", kind="datetime"),
            Column("member", gettext_lazy("Member"), get=member_name, link=member_url),
            Column("currency", gettext_lazy("Currency"), sort="currency", kind="label:currency"),
            Column("amount", gettext_lazy("Amount"), sort="amount", kind="num",
                   get=lambda e: e.amount if e.credit.member_id else -e.amount),
            Column("reason", gettext_lazy("Reason"), get=lambda e: e.reason_in()),
        ]

    def rows(self):
        return (Entry.objects.filter(business=self.business, kind=Entry.Kind.CONVERT)
                .select_related("member", "credit"))


class BranchesReport(Report):
    """Its rows are computed (panel.selectors.branch_performance: the report_rollups job's kept days plus today
    live), not a queryset; sorted here by any column, ties by branch name."""

    slug, title = "branches", gettext_lazy("Branch performance")
    description = gettext_lazy("Purchases, visits (a member once a day per branch), revenue, discounts and points "
                               "redeemed per branch.")
    date_field, default_sort = "occurred_at", "-revenue"  # the operator's branches: branch_performance's filter
    default_days = 30
    group_by = ("branch__name",)
    chart = ("branch__name", "revenue")

    def make_columns(self) -> list[Column]:
        return [grouped("branch__name", gettext_lazy("Branch")), grouped("purchases", gettext_lazy("Purchases"), "num"),
                grouped("visits", gettext_lazy("Visits"), "num"), grouped("revenue", gettext_lazy("Revenue"), "money"),
                grouped("discount", gettext_lazy("Discount"), "money"),
                grouped("points_redeemed", gettext_lazy("Points redeemed"), "num"),
                grouped("average", gettext_lazy("Average basket"), "money")]

    def filtered(self) -> list:  # type: ignore[override]
        today = timezone.now().astimezone(ZoneInfo(self.business.timezone)).date()
        start, end = self.day_param("from"), self.day_param("to")
        rows = selectors.branch_performance(self.business, start.date() if start else None,
                                            min(end.date(), today) if end else today, self.request.principal.branch_ids)
        wanted = self.params.get("sort", "")
        key = wanted if wanted.lstrip("-") in {c.key for c in self.columns} else self.default_sort
        rows.sort(key=itemgetter("branch__name"))
        rows.sort(key=itemgetter(key.lstrip("-")), reverse=key.startswith("-"))
        return rows


class SignUpsReport(Report):
    slug, title = "sign-ups", gettext_lazy("Sign-ups by source")
    description = gettext_lazy("New members per source (where they heard of the club).")
    date_field, default_sort = "joined_at", "-members"
    group_by = ("join_source",)
    chart, chart_type = ("join_source", "members"), "doughnut"

    def make_columns(self) -> list[Column]:
        return [grouped("join_source", gettext_lazy("Source")), grouped("members", gettext_lazy("Members"), "num")]

    def rows(self):
        return Member.objects.filter(business=self.business)

    def aggregate(self, qs):
        return qs.annotate(members=Count("id"))


class CommissionsReport(Report):
    slug, title = "commissions", gettext_lazy("Operator commissions")
    description = gettext_lazy("Members each operator signed up and the commission earned.")
    date_field, default_sort = "created_at", "-amount"
    group_by = ("operator_label",)
    chart = ("operator_label", "amount")

    def make_columns(self) -> list[Column]:
        return [grouped("operator_label", gettext_lazy("Operator")), grouped("members", gettext_lazy("Members"), "num"),
                        grouped("amount", gettext_lazy("Commission"), "money")]

    def rows(self):
        return Commission.objects.filter(business=self.business)

    def aggregate(self, qs):
        return qs.annotate(members=Count("id"), amount=Sum("amount"))


class ExpiringReport(Report):
    slug, title = "expiring", gettext_lazy("Expiring credit")
    description = gettext_lazy("Open balances that expire in the period (by default from today on).")
    date_field, default_sort = "expires_at", "expires_at"
    choices = (CURRENCY,)

    def make_columns(self) -> list[Column]:
        return [
            Column("expires_at", gettext_lazy("Expires"), sort="expires_at", kind="date"),
            Column("member", gettext_lazy("Member"), get=member_name, link=member_url),
            Column("currency", gettext_lazy("Currency"), sort="currency", kind="label:currency"),
            Column("remaining", gettext_lazy("Amount"), sort="remaining", kind="num"),
        ]

    def rows(self):
        return Lot.objects.filter(business=self.business, state=Lot.State.OPEN, expires_at__isnull=False,
                                  remaining__gt=0).select_related("member")

    def refine(self, qs):
        if not self.params.get("from"):
            qs = qs.filter(expires_at__gte=timezone.now())
        return qs


class RedemptionsReport(Report):
    slug, title = "redemptions", gettext_lazy("Voucher redemptions")
    description = gettext_lazy("Every voucher code used, by whom and for how much.")
    date_field, default_sort = "created_at", "-created_at"

    def make_columns(self) -> list[Column]:
        return [
            Column("created_at", gettext_lazy("When"), sort="created_at", kind="datetime"),
            Column("definition", gettext_lazy("Voucher"), sort="definition__name", get=lambda r: r.definition.name),
            Column("code", gettext_lazy("Code"), sort="code__code", kind="ltr", get=lambda r: r.code.code),
            Column("member", gettext_lazy("Member"), get=lambda r: (r.member.full_name or r.member.code) if r.member else "—"),
            Column("amount", gettext_lazy("Discount"), sort="amount", kind="money"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:redemption"),
        ]

    def rows(self):
        return Redemption.objects.filter(business=self.business).select_related("definition", "code", "member")


class AuditReport(Report):
    slug, title = "audit", gettext_lazy("Audit log")
    description = gettext_lazy("Who changed what, when and from where (the API's and the back office's writes).")
    date_field, default_sort = "at", "-at"
    searchable = True

    def make_columns(self) -> list[Column]:
        return [
            Column("at", gettext_lazy("When"), sort="at", kind="datetime"),
            Column("actor_label", gettext_lazy("Who"), sort="actor_label", get=lambda a: actor(a.actor_label)),
            Column("action", gettext_lazy("What"), sort="action", kind="label:operation"),
            Column("object", gettext_lazy("Object"), get=lambda a: f"{a.object_type} {a.object_id}".strip(), kind="ltr"),
            Column("status_code", gettext_lazy("Result"), sort="status_code", kind="num"),
            Column("actor_ip", gettext_lazy("From"), kind="ltr"),
        ]

    def rows(self):
        return AuditEvent.objects.filter(business=self.business)

    def refine(self, qs):
        if q := self.params.get("q", "").strip():
            qs = qs.filter(Q(actor_label__icontains=q) | Q(action__icontains=q))
        return qs


class AccountingReport(Report):
    """Per currency and day; its rows are computed (panel.selectors.points_accounting), not a queryset."""

    slug, title = "accounting", gettext_lazy("Points accounting")
    description = gettext_lazy("Per currency and day: opening balance, earned, reversed, spent, given back, "
                               "expired, other (adjustments, conversions, donations) and closing balance.")
    date_field = "created_at"
    choices = (CURRENCY,)
    DEFAULT_DAYS = 30
    MAX_DAYS = 366

    def make_columns(self) -> list[Column]:
        names = [("day", gettext_lazy("Day"), "date"), ("currency", gettext_lazy("Currency"), "label:currency"),
                 ("opening", gettext_lazy("Opening balance"), "num"), ("earned", gettext_lazy("Earned"), "num"),
                 ("reversed", gettext_lazy("Reversed"), "num"), ("spent", gettext_lazy("Spent"), "num"),
                 ("given_back", gettext_lazy("Given back"), "num"), ("expired", gettext_lazy("Expired"), "num"),
                 ("other", gettext_lazy("Other"), "num"), ("closing", gettext_lazy("Closing balance"), "num")]
        return [Column(key, title, kind=kind, get=attrgetter(key)) for key, title, kind in names]

    def period(self) -> tuple[dt.date, dt.date]:
        today = timezone.now().astimezone(ZoneInfo(self.business.timezone)).date()
        start, end = self.day_param("from"), self.day_param("to")
        last = min(end.date(), today) if end else today
        first = start.date() if start else last - dt.timedelta(days=self.DEFAULT_DAYS - 1)
        if (last - first).days >= self.MAX_DAYS:
            self.errors["to"] = _("At most %(days)s days at a time.") % {"days": num(self.MAX_DAYS)}
            first = last - dt.timedelta(days=self.MAX_DAYS - 1)
        return first, last

    def filtered(self) -> list:  # type: ignore[override]
        currency = CURRENCY.value(self.params)
        currencies = (currency,) if currency else CURRENCIES
        first, last = self.period()
        return selectors.points_accounting(self.business, first, last, currencies)


class MessagesReport(Report):
    """Messages sent (the API's message log), charted per day of the business calendar."""

    slug, title = "messages", gettext_lazy("Messages sent")
    description = gettext_lazy("Every SMS and email to members: when, what kind, the channel, its state and cost.")
    date_field, default_sort = "created_at", "-created_at"
    whole_business = True
    chart = ("created_at", "messages")  # per day: chart_data below

    choices = (Choice("channel", gettext_lazy("Channel"), "channel"),)

    def make_columns(self) -> list[Column]:
        return [
            Column("created_at", gettext_lazy("When"), sort="created_at", kind="datetime"),
            Column("member", gettext_lazy("Member"), get=lambda m: (m.member.full_name or m.member.code)
                   if m.member else "—", link=lambda m: reverse("panel:member", args=[m.member_id])
                   if m.member_id else None),
            Column("to", gettext_lazy("Recipient"), kind="phone"),
            Column("kind", gettext_lazy("Kind"), sort="kind", kind="label:message_kind"),
            Column("channel", gettext_lazy("Channel"), sort="channel", kind="label:channel"),
            Column("state", gettext_lazy("Status"), sort="state", kind="label:message_state"),
            Column("parts", gettext_lazy("Parts"), sort="parts", kind="num"),
            Column("cost", gettext_lazy("Cost"), sort="cost", kind="money"),
            Column("text", gettext_lazy("Text")),
            Column("error", gettext_lazy("Error"), kind="ltr"),
        ]

    def extra_filters(self):
        sent = Message.objects.filter(business=self.business).exclude(state=Message.State.COMPOSING)
        kinds = sent.values_list("kind", flat=True).distinct().order_by("kind")
        return [Filter("kind", gettext_lazy("Kind"), [(k, label("message_kind", k)) for k in kinds]),
                Filter("state", gettext_lazy("Status"), [(k, str(v)) for k, v in LABELS["message_state"].items()
                                                        if k != Message.State.COMPOSING])]

    def rows(self):
        return (Message.objects.filter(business=self.business).exclude(state=Message.State.COMPOSING)
                .select_related("member"))

    def refine(self, qs):
        for name in ("kind", "state"):
            if self.params.get(name):
                qs = qs.filter(**{name: self.params[name]})
        return qs

    def chart_data(self) -> dict | None:
        """Messages per day (business calendar and time zone) over the filtered rows: one grouped query."""
        zone = ZoneInfo(self.business.timezone)
        per_day = (self.apply(self.base_queryset()).order_by().annotate(day=TruncDate("created_at", tzinfo=zone))
                   .values("day").annotate(n=Count("id")).order_by("day"))
        days = [(row["day"], row["n"]) for row in per_day]
        language = "fa" if self.request.LANGUAGE_CODE == "fa" else "en"
        return {"type": "bar", "label": str(_("Messages")),
                "labels": [format_date(day, self.business.calendar, language) for day, _n in days],
                "values": [n for _day, n in days]}


REPORTS: list[type[Report]] = [MembersReport, CardsReport, ItemSalesReport, ConversionsReport, BranchesReport,
                               SignUpsReport, CommissionsReport, ExpiringReport, RedemptionsReport, AccountingReport,
                               MessagesReport]
BY_SLUG = {r.slug: r for r in REPORTS}


def visible_reports(request) -> list[tuple[str, str]]:
    """The reports in the sidebar of a report page: the audit log only for those who may open it (admin scope)."""
    whole = True
    try:
        request.principal.require(Scope.READ, whole_business=True)
    except Forbidden:
        whole = False
    reports: list[type[Report]] = [r for r in REPORTS if whole or not r.whole_business]
    try:
        request.principal.require(Scope.ADMIN)
        reports.append(AuditReport)
    except Forbidden:
        pass
    return [(r.slug, str(r.title)) for r in reports]


@panel_view(Scope.READ)
def report_index(request):
    return render(request, "panel/reports/index.html", {"reports": visible_reports(request),
                                                        "descriptions": {r.slug: r.description for r in [*REPORTS, AuditReport]}})


@panel_view(Scope.READ)
def report(request, slug: str):
    if slug not in BY_SLUG:
        raise Http404
    request.principal.require(Scope.READ, whole_business=BY_SLUG[slug].whole_business)
    return BY_SLUG[slug](request).respond()


@panel_view(Scope.ADMIN)
def audit_log(request):
    return AuditReport(request).respond({"search_hint": _("Operator or action")})

