"""Members: the filtered, exportable list; the member page; every action through the members and ledger
services the API uses."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.db.models import Max, OuterRef, Q, Subquery
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.core.calendar import JALALI_MONTHS, birth_month, format_date, parse_date
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import NotFound
from vafa.ledger.models import Lot
from vafa.ledger.selectors import balances, ledger_entries
from vafa.members import selectors as member_selectors
from vafa.members import services
from vafa.members.balances import adjust, convert_points_to_wallet, grant_gift_credit
from vafa.members.models import Card, Member
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS
from vafa.panel.selectors import active_days, distinct_values, plan_names, tier_names
from vafa.panel.tables import Column, Filter, Table
from vafa.panel.templatetags.panel import num
from vafa.program.engine import tier_progress
from vafa.program.selectors import active_program
from vafa.purchases.models import Purchase
from vafa.purchases.selectors import tier_metric
from vafa.tenancy.models import Branch


def member_url(member) -> str:
    return reverse("panel:member", args=[member.pk])


class MemberTable(Table):
    template = "panel/members/list.html"
    export_name = "members"
    sheet_title = gettext_lazy("Members")
    default_sort = "-id"

    def __init__(self, request) -> None:
        super().__init__(request)
        b = self.business
        self.columns = [
            Column("code", gettext_lazy("Code"), sort="code", kind="ltr", link=member_url),
            Column("name", gettext_lazy("Name"), sort="last_name", get=lambda m: m.full_name or "—", link=member_url),
            Column("mobile", gettext_lazy("Mobile"), kind="phone", get=lambda m: m.mobile),
            Column("tier", gettext_lazy("Tier"), sort="tier", kind="tier"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:member_status"),
            Column("join_source", gettext_lazy("Source"), sort="join_source"),
            Column("joined_at", gettext_lazy("Joined"), sort="joined_at", kind="datetime"),
            Column("last_purchase", gettext_lazy("Last purchase"), sort="last_purchase", kind="datetime"),
        ]
        names = tier_names(b, request.LANGUAGE_CODE)
        active = active_days(b)
        tiers = distinct_values(Member, b.pk, "tier")
        months = JALALI_MONTHS if b.calendar == "jalali" and request.LANGUAGE_CODE == "fa" else [
            str(i) for i in range(1, 13)]
        self.filters = [
            Filter("tier", gettext_lazy("Tier"), [(t, names.get(t, t)) for t in sorted(tiers)]),
            Filter("status", gettext_lazy("Status"), [(k, str(v)) for k, v in LABELS["member_status"].items()]),
            Filter("branch", gettext_lazy("Bought at branch"),
                   [(str(br.pk), br.name) for br in Branch.objects.filter(business=b).order_by("name")]),
            Filter("source", gettext_lazy("Source"), [(s, s) for s in distinct_values(Member, b.pk, "join_source")]),
            Filter("birth_month", gettext_lazy("Birth month"), [(str(i + 1), name) for i, name in enumerate(months)]),
            Filter("last_purchase", gettext_lazy("Last purchase"), [("30", gettext_lazy("in the last 30 days")),
                                                           ("90", gettext_lazy("in the last 90 days")),
                                                           (str(active), gettext_lazy("active (a purchase in the last %(n)s days)") % {"n": num(active)}),
                                                           (f"none{active}", gettext_lazy("not active (no purchase in the last %(n)s days)") % {"n": num(active)})]),
        ]

    def base_queryset(self):
        last = (Purchase.objects.filter(business=self.business, member=OuterRef("pk"))
                .order_by().values("member").annotate(at=Max("occurred_at")).values("at"))
        return Member.objects.filter(business=self.business).annotate(last_purchase=Subquery(last))

    def apply(self, qs):
        p = self.params
        if q := p.get("q", "").strip():
            qs = qs.filter(pk__in=self.search_ids(q))
        if p.get("tier"):
            qs = qs.filter(tier=p["tier"])
        if p.get("status") in Member.Status.values:
            qs = qs.filter(status=p["status"])
        if p.get("source"):
            qs = qs.filter(join_source=p["source"])
        if p.get("branch", "").isdigit():
            qs = qs.filter(pk__in=Purchase.objects.filter(business=self.business, branch_id=int(p["branch"]))
                           .values("member_id"))
        if p.get("birth_month", "").isdigit():
            qs = qs.filter(pk__in=self.born_in(int(p["birth_month"])))
        if window := p.get("last_purchase"):
            days = int(window.removeprefix("none")) if window.removeprefix("none").isdigit() else None
            if days:
                recent = Purchase.objects.filter(business=self.business,
                                                 occurred_at__gte=timezone.now() - dt.timedelta(days=days))
                qs = (qs.exclude(pk__in=recent.values("member_id")) if window.startswith("none")
                      else qs.filter(pk__in=recent.values("member_id")))
        return qs

    def search_ids(self, q: str):
        """Mobile in any spelling (Persian digits, 0912…, +98…), an active card's number, a member code or a
        name: the members selector answers the first and the last, cards are looked up here."""
        ids = set(member_selectors.search_members(self.business, q, limit=200).values_list("pk", flat=True))
        number = to_ascii_digits(q).strip()
        if number.isdigit():
            ids.update(Card.objects.filter(business=self.business, number=number).values_list("member_id", flat=True))
        ids.update(Member.objects.filter(business=self.business, code=number.upper()).values_list("pk", flat=True))
        return ids

    def born_in(self, month: int):
        """Birth dates in a business-calendar month. A Jalali month spans two Gregorian months; the rows with a
        birth date are filtered on the database by those two months, then exactly in Python."""
        base = Member.objects.filter(business=self.business, birth_date__isnull=False)
        if self.business.calendar != "jalali":
            return base.filter(birth_date__month=month).values("pk")
        # Jalali month m starts in Gregorian month (m + 2) % 12 + 1 (Farvardin starts 21 March).
        first = (month + 1) % 12 + 1
        second = first % 12 + 1
        rows = base.filter(Q(birth_date__month=first) | Q(birth_date__month=second)).values_list("pk", "birth_date")
        return [pk for pk, day in rows if birth_month(day, "jalali") == month]


@panel_view(Scope.READ)
def member_list(request):
    return MemberTable(request).respond({"search_hint": _("Mobile, card, member code or name")})


class ProfileForm(forms.Form):
    mobile = forms.CharField(label=gettext_lazy("Mobile"), max_length=32)
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)
    email = forms.CharField(label=gettext_lazy("Email"), max_length=254, required=False)
    birth_date = forms.CharField(label=gettext_lazy("Birth date"), max_length=20, required=False,
                                 widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))
    gender = forms.ChoiceField(label=gettext_lazy("Gender"), required=False, choices=list(LABELS["gender"].items()))
    job = forms.CharField(label=gettext_lazy("Job"), max_length=100, required=False)
    education = forms.CharField(label=gettext_lazy("Education"), max_length=100, required=False)


class SignUpForm(ProfileForm):
    join_source = forms.CharField(label=gettext_lazy("Source"), max_length=100, required=False)
    referral_code = forms.CharField(label=gettext_lazy("Referral code"), max_length=32, required=False)


@panel_view(Scope.WRITE)
def member_new(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        referral = data.pop("referral_code") or None
        member = run_service(form, lambda: services.sign_up(
            request.business, actor=request.principal.actor, referral_code=referral, **data))
        if member is not None:
            messages.success(request, _("Member signed up."))
            return redirect(member_url(member))
    return render(request, "panel/members/form.html", {"form": form, "title": _("Sign up a member")})


def _member(request, member_id: int) -> Member:
    return member_selectors.member_by_id(request.business, member_id)


@panel_view(Scope.WRITE)
def member_edit(request, member_id: int):
    member = _member(request, member_id)
    initial = {f: getattr(member, f) for f in ProfileForm.base_fields}
    if member.birth_date:
        initial["birth_date"] = format_date(member.birth_date, request.business.calendar, "en")
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k in form.changed_data}
        if run_service(form, lambda: services.update_member(
                request.business, services.MemberUpdate.check(request.business, member.pk, **changes),
                actor=request.principal.actor)):
            messages.success(request, _("Profile saved."))
            return redirect(member_url(member))
    return render(request, "panel/members/form.html", {"form": form, "member": member, "title": _("Edit profile")},
                  status=422 if form.errors else 200)  # refused: nothing written, so no audit row either


CURRENCY_CHOICES = [(k, v) for k, v in LABELS["currency"].items()]


class AdjustForm(forms.Form):
    currency = forms.ChoiceField(label=gettext_lazy("Balance"), choices=CURRENCY_CHOICES)
    amount = AmountField(label=gettext_lazy("Amount (negative takes away)"), signed=True)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)


class GrantForm(forms.Form):
    amount = AmountField(label=gettext_lazy("Gift credit amount"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)
    expires = forms.CharField(label=gettext_lazy("Expires on"), required=False, max_length=20,
                              widget=forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"}))


class ConvertForm(forms.Form):
    points = AmountField(label=gettext_lazy("Points to convert"))


ACTIONS = {"adjust": AdjustForm, "grant": GrantForm, "convert": ConvertForm}


def _expiry(form: GrantForm, business) -> dt.datetime | None:
    text = form.cleaned_data.get("expires")
    if not text:
        return None
    day = parse_date(text, "expires")

    return dt.datetime.combine(day, dt.time.max, tzinfo=ZoneInfo(business.timezone))


@require_POST
@panel_view(Scope.WRITE)
def member_action(request, member_id: int, action: str):
    """Adjust (admin), grant gift credit (admin), convert points (write): the scope each needs in the API."""
    member = _member(request, member_id)
    if action not in ACTIONS:
        raise NotFound("not_found")
    request.principal.require(Scope.WRITE if action == "convert" else Scope.ADMIN)
    form = ACTIONS[action](request.POST, prefix=action)
    done = None
    if form.is_valid():
        b, actor, data = request.business, request.principal.actor, form.cleaned_data
        if action == "adjust":
            done = run_service(form, lambda: adjust(b, member.pk, data["currency"], data["amount"],
                                                           reason=data["reason"], actor=actor))
        elif action == "grant":
            done = run_service(form, lambda: grant_gift_credit(
                b, amount=data["amount"], reason=data["reason"], member_ids=[member.pk],
                expires_at=_expiry(form, b), actor=actor))
        else:
            done = run_service(form, lambda: convert_points_to_wallet(b, member.pk, data["points"],
                                                                               actor=actor))
    if done is not None:
        messages.success(request, _("Done."))
        return redirect(member_url(member))
    return member_page(request, member_id, forms_={action: form}, status=422)


@require_POST
@panel_view(Scope.WRITE)
def member_status(request, member_id: int):
    member = _member(request, member_id)
    status = Member.Status.ACTIVE if request.POST.get("status") == "active" else Member.Status.BLOCKED
    services.update_member(request.business, services.MemberUpdate(member.pk, profile={"status": status}),
                           actor=request.principal.actor)
    messages.success(request, _("Member blocked.") if status == Member.Status.BLOCKED else _("Member unblocked."))
    return redirect(member_url(member))


@require_POST
@panel_view(Scope.WRITE)
def card_action(request, member_id: int, action: str):
    member = _member(request, member_id)
    number = request.POST.get("number", "")
    form = forms.Form(request.POST)
    b, actor = request.business, request.principal.actor
    key = (request.POST.get("key") or "")[:64] or None  # the page's own: a second click is the same card
    calls = {"issue": lambda: services.issue_card(b, services.CardIssue.check(
                 member.pk, kind=request.POST.get("kind") or None), actor=actor, idempotency_key=key),
             "lost": lambda: services.report_card_lost(b, services.CardLoss.check(member.pk, number), actor=actor,
                                                       idempotency_key=key),
             "replace": lambda: services.replace_card(b, services.CardReplacement.check(member.pk, number),
                                                      actor=actor, idempotency_key=key)}
    if action not in calls:
        raise NotFound("not_found")
    if run_service(form, calls[action]) is None:  # refused: nothing written, so no audit row either
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))  # a form of no fields
        return member_page(request, member_id, status=422)
    messages.success(request, {"issue": _("Card issued."), "lost": _("Card reported lost."),
                               "replace": _("Replacement card issued; the old number is blocked.")}[action])
    return redirect(member_url(member) + "#cards")


@panel_view(Scope.READ)
def member_page(request, member_id: int, forms_: dict | None = None, status: int = 200):
    member = _member(request, member_id)
    b = request.business
    held = balances(member)
    lots = (Lot.objects.filter(business=b, member=member, state=Lot.State.OPEN, remaining__gt=0)
            .order_by("expires_at", "id")[:50])
    purchases = (Purchase.objects.filter(business=b, member=member).select_related("branch")
                 .order_by("-occurred_at", "-id")[:20])
    if request.principal.branch_ids is not None:  # a cashier sees their branches' purchases only
        purchases = [p for p in purchases if request.principal.may_use_branch(p.branch_id)]
    progress = None
    try:
        _version, document = active_program(b)
        if document.tiers:
            progress = tier_progress(document, member.tier, tier_metric(member, document, timezone.now()))
    except NotFound:
        pass
    all_forms = {name: cls(prefix=name) for name, cls in ACTIONS.items()} | (forms_ or {})
    subscriptions = list(member.subscriptions.filter(business=b).order_by("-starts_at")[:5])
    names = plan_names(b, request.LANGUAGE_CODE) if subscriptions else {}
    for sub in subscriptions:
        sub.plan_name = names.get(sub.plan, sub.plan)  # a plan no longer in the program shows by its code
    return render(request, "panel/members/detail.html", {
        "member": member, "balances": held, "lots": lots, "entries": ledger_entries(member, limit=50),
        # each list names the business too: their indexes start with business_id (docs/architecture.md)
        "purchases": purchases, "cards": member.cards.filter(business=b).order_by("-issued_at", "-id"),
        "progress": progress, "tier_changes": member.tier_changes.filter(business=b).order_by("-changed_at")[:10],
        "referrals": member.referrals.filter(business=b).order_by("-joined_at")[:20], "forms": all_forms,
        "rewards": member.issued_rewards.filter(business=b, status="issued").order_by("-issued_at")[:20],
        "visits": member.visits.filter(business=b).select_related("branch").order_by("-occurred_at")[:10],
        "gift_requests": member.gift_requests.filter(business=b).select_related("gift").order_by("-id")[:10],
        "subscriptions": subscriptions,
        "can_admin": request.principal.scope == Scope.ADMIN, "can_write": request.principal.scope != Scope.READ,
        "form_key": uuid.uuid4().hex,
    }, status=status)

