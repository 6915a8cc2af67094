"""Rewards: vouchers (create, generate a batch, import codes, export codes, redemptions), the gift catalogue and
its request queue (fulfil, reject with refund, ship), gift credit grants to members or a tier. Every form goes
to the service the API calls (vafa.vouchers.services, vafa.catalogue.services, vafa.ledger.services), with
the API's scope: admin for definitions and grants, write for the request queue."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.catalogue import services as catalogue
from vafa.catalogue.models import PRICE_CURRENCIES, Gift, GiftGroup, GiftRequest
from vafa.catalogue.selectors import gift_by_id
from vafa.clubs import selectors as clubs_selectors
from vafa.clubs import services as clubs
from vafa.clubs.models import Donation
from vafa.core.calendar import format_date, parse_date
from vafa.core.errors import InvalidInput, NotFound
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.models import GiftCard
from vafa.members.balances import grant_gift_credit
from vafa.panel.auth import may, panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS
from vafa.panel.program_views import find_member
from vafa.panel.selectors import tier_names
from vafa.panel.tables import Column, Filter, Table
from vafa.panel.templatetags.panel import num
from vafa.vouchers import services as vouchers
from vafa.vouchers.models import VoucherCode, VoucherDefinition

DATE_WIDGET = forms.TextInput(attrs={"data-jdp": "", "autocomplete": "off"})


class DateField(forms.Field):
    """A day typed in the business calendar (Jalali or Gregorian, any digits)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", DATE_WIDGET)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        text = (value or "").strip()[:40]
        if not text:
            return None
        try:
            return parse_date(text, "date")
        except InvalidInput as exc:
            raise forms.ValidationError(_("Not a date: %(value)s") % {"value": text}) from exc


def _end_of(business, day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time.max, tzinfo=ZoneInfo(business.timezone)) if day else None


# --- vouchers ---------------------------------------------------------------------------------------------

class VoucherTable(Table):
    template = "panel/rewards/vouchers.html"
    export_name = "vouchers"
    sheet_title = gettext_lazy("Vouchers")

    def __init__(self, request) -> None:
        super().__init__(request)
        url = lambda v: reverse("panel:voucher", args=[v.pk])  # noqa: E731
        self.columns = [
            Column("name", gettext_lazy("Name"), sort="name", link=url),
            Column("kind", gettext_lazy("Kind"), sort="kind", kind="label:voucher_kind"),
            Column("codes", gettext_lazy("Codes"), kind="num", get=lambda v: v.codes.count()),
            Column("used_count", gettext_lazy("Used"), sort="used_count", kind="num"),
            Column("starts_on", gettext_lazy("From"), sort="starts_on", kind="date"),
            Column("ends_on", gettext_lazy("To"), sort="ends_on", kind="date"),
        ]

    def base_queryset(self):
        return VoucherDefinition.objects.filter(business=self.business)

    def apply(self, qs):
        if q := self.params.get("q", "").strip():
            qs = qs.filter(name__icontains=q)
        return qs


class VoucherForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=list(LABELS["voucher_kind"].items()))
    percent = forms.DecimalField(label=gettext_lazy("Percent"), required=False, min_value=0, max_value=100)
    max_discount = AmountField(label=gettext_lazy("Discount at most"), required=False)
    amount = AmountField(label=gettext_lazy("Amount off"), required=False)
    min_amount = AmountField(label=gettext_lazy("Purchase at least"), required=False)
    starts_on = DateField(label=gettext_lazy("From"))
    ends_on = DateField(label=gettext_lazy("To"))
    max_uses_per_member = forms.IntegerField(label=gettext_lazy("Uses per member at most"), required=False, min_value=1)


@panel_view(Scope.ADMIN)
def voucher_list(request):
    form = VoucherForm(request.POST or None, prefix="voucher")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = run_service(form, lambda: vouchers.create_definition(
            request.business, name=data["name"], kind=data["kind"], percent=data["percent"],
            max_discount=data["max_discount"], amount=data["amount"] or 0, min_amount=data["min_amount"] or 0,
            starts_on=data["starts_on"], ends_on=data["ends_on"], max_uses_per_member=data["max_uses_per_member"]))
        if created is not None:
            messages.success(request, _("Voucher created."))
            return redirect("panel:voucher", created.pk)
    return VoucherTable(request).respond({"form": form, "search_hint": _("Voucher name")})


class CodeTable(Table):
    template = "panel/rewards/voucher.html"
    default_sort = "id"
    sheet_title = gettext_lazy("Codes")

    def __init__(self, request, definition: VoucherDefinition) -> None:
        super().__init__(request)
        self.definition = definition
        self.export_name = f"voucher-{definition.pk}-codes"
        self.columns = [
            Column("code", gettext_lazy("Code"), sort="code", kind="ltr"),
            Column("max_uses", gettext_lazy("Uses allowed"), kind="num"),
            Column("used_count", gettext_lazy("Used"), sort="used_count", kind="num"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:code_status"),
            Column("created_at", gettext_lazy("Created"), sort="created_at", kind="date"),
        ]
        self.filters = [Filter("used", gettext_lazy("Used"), [("yes", str(_("Used"))), ("no", str(_("Not used")))])]

    def base_queryset(self):
        return VoucherCode.objects.filter(business=self.business, definition=self.definition)

    def apply(self, qs):
        if q := self.params.get("q", "").strip():
            qs = qs.filter(code__icontains=q.upper())
        if self.params.get("used") == "yes":
            qs = qs.filter(used_count__gt=0)
        elif self.params.get("used") == "no":
            qs = qs.filter(used_count=0)
        return qs


class GenerateForm(forms.Form):
    count = AmountField(label=gettext_lazy("How many codes"), initial=100)
    prefix = forms.CharField(label=gettext_lazy("Prefix"), max_length=12, required=False)


class ImportCodesForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV or Excel file, one code per row"))


@panel_view(Scope.ADMIN)
def voucher_page(request, voucher_id: int):
    definition = VoucherDefinition.objects.filter(business=request.business, pk=voucher_id).first()
    if definition is None:
        raise NotFound("not_found")
    generate = GenerateForm(request.POST if request.POST.get("action") == "generate" else None, prefix="gen")
    upload = ImportCodesForm(request.POST if request.POST.get("action") == "import" else None,
                             request.FILES or None, prefix="imp")
    if request.method == "POST":
        done = None
        if generate.is_bound and generate.is_valid():
            done = run_service(generate, lambda: vouchers.generate_codes(
                definition, generate.cleaned_data["count"], prefix=generate.cleaned_data["prefix"]))
        elif upload.is_bound and upload.is_valid():
            file = upload.cleaned_data["file"]
            done = run_service(upload, lambda: vouchers.import_codes(definition, file, filename=file.name))
        if done is not None:
            messages.success(request, _("%(n)s codes added.") % {"n": num(len(done))})
            return redirect("panel:voucher", definition.pk)
    redemptions = definition.redemptions.select_related("code", "member").order_by("-created_at")[:20]
    return CodeTable(request, definition).respond({"definition": definition, "generate": generate,
                                                   "upload": upload, "redemptions": redemptions,
                                                   "search_hint": _("Code")})


# --- the gift catalogue and its request queue ---------------------------------------------------------------

class GiftForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    group = forms.ChoiceField(label=gettext_lazy("Group"), required=False)
    new_group = forms.CharField(label=gettext_lazy("or a new group"), max_length=200, required=False)
    price_currency = forms.ChoiceField(label=gettext_lazy("Paid with"),
                                       choices=[(c, LABELS["currency"].get(c, c)) for c, _ in PRICE_CURRENCIES])
    price = AmountField(label=gettext_lazy("Price"))
    stock = forms.IntegerField(label=gettext_lazy("Stock (empty: unlimited)"), required=False, min_value=0)
    picture = forms.FileField(label=gettext_lazy("Picture (PNG, JPEG or WebP, up to 1 MB)"), required=False)
    display_from = DateField(label=gettext_lazy("Shown from"))
    display_until = DateField(label=gettext_lazy("Shown until"))
    description = forms.CharField(label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, business, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = [("", "—")] + [(str(g.pk), g.title) for g in
                                                      GiftGroup.objects.filter(business=business).order_by("position", "title")]

    def save(self, business, gift: Gift | None) -> Gift:
        """Create the gift or change the fields the operator changed, then its picture: one transaction, so a
        refused picture leaves the gift as it was (through catalogue.services, as the API)."""
        data = self.cleaned_data
        changed = self.changed_data if gift else list(data)
        fields: dict = {name: data[name] for name in ("title", "price_currency", "price", "stock", "description")
                        if name in changed}
        fields |= {name: data[name].isoformat() if data[name] else None
                   for name in ("display_from", "display_until") if name in changed}
        if "group" in changed or data["new_group"].strip():
            fields["group_id"] = int(data["group"]) if data["group"] else None
        with transaction.atomic():
            if data["new_group"].strip():
                fields["group_id"] = catalogue.create_group(business, title=data["new_group"]).pk
            gift = catalogue.update_gift(business, gift.pk, **fields) if gift else catalogue.create_gift(business, **fields)
            if upload := data.get("picture"):
                gift = catalogue.set_gift_picture(business, gift.pk, upload.read(catalogue.PICTURE_MAX_BYTES + 1))
        return gift


class GiftTable(Table):
    template = "panel/rewards/gifts.html"
    export_name = "gifts"
    sheet_title = gettext_lazy("Gift catalogue")

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = [
            Column("title", gettext_lazy("Title"), sort="title", link=lambda g: reverse("panel:gift", args=[g.pk])),
            Column("group", gettext_lazy("Group"), sort="group__title", get=lambda g: g.group.title if g.group else ""),
            Column("price_currency", gettext_lazy("Paid with"), kind="label:currency"),
            Column("price", gettext_lazy("Price"), sort="price", kind="num"),
            Column("stock", gettext_lazy("Stock"), sort="stock", kind="num"),
            Column("display_until", gettext_lazy("Shown until"), sort="display_until", kind="date"),
            Column("picture", gettext_lazy("Picture"), get=lambda g: _("Uploaded") if g.uploaded_picture else
                   (_("Address only: upload it") if g.picture else "")),
        ]

    def base_queryset(self):
        return Gift.objects.filter(business=self.business).select_related("group")

    def apply(self, qs):
        if q := self.params.get("q", "").strip():
            qs = qs.filter(title__icontains=q)
        return qs


@panel_view(Scope.ADMIN)
def gift_list(request):
    form = GiftForm(request.POST or None, request.FILES or None, business=request.business, prefix="gift")
    if request.method == "POST" and form.is_valid():
        if run_service(form, lambda: form.save(request.business, None)) is not None:
            messages.success(request, _("Gift added to the catalogue."))
            return redirect("panel:gifts")
    return GiftTable(request).respond({"form": form, "search_hint": _("Title")})


@panel_view(Scope.ADMIN)
def gift_page(request, gift_id: int):
    """One gift: its picture and its fields, changed as PATCH /api/v1/gifts/{id} changes them."""
    gift = gift_by_id(request.business, gift_id)
    calendar = request.business.calendar
    initial = {"title": gift.title, "group": str(gift.group_id or ""), "price_currency": gift.price_currency,
               "price": gift.price, "stock": gift.stock, "description": gift.description,
               "display_from": format_date(gift.display_from, calendar, "en") if gift.display_from else "",
               "display_until": format_date(gift.display_until, calendar, "en") if gift.display_until else ""}
    form = GiftForm(request.POST or None, request.FILES or None, business=request.business, initial=initial,
                    prefix="gift")
    if request.method == "POST" and form.is_valid():
        if run_service(form, lambda: form.save(request.business, gift)) is not None:
            messages.success(request, _("Saved."))
            return redirect("panel:gift", gift.pk)
    return render(request, "panel/rewards/gift.html", {"gift": gift, "form": form},
                  status=422 if form.errors else 200)


class RequestTable(Table):
    template = "panel/rewards/requests.html"
    actions_template = "panel/rewards/request_actions.html"
    export_name = "gift-requests"
    sheet_title = gettext_lazy("Gift requests")
    default_sort = "-requested_at"

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = [
            Column("requested_at", gettext_lazy("Requested"), sort="requested_at", kind="datetime"),
            Column("member", gettext_lazy("Member"), get=lambda r: r.member.full_name or r.member.code,
                   link=lambda r: reverse("panel:member", args=[r.member_id])),
            Column("gift", gettext_lazy("Gift"), sort="gift__title", get=lambda r: r.gift.title),
            Column("price", gettext_lazy("Price"), sort="price", kind="num"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:gift_request"),
            Column("note", gettext_lazy("Note"), get=lambda r: r.shipping_note or r.note),
        ]
        self.filters = [Filter("status", gettext_lazy("Status"), [(k, str(v)) for k, v in LABELS["gift_request"].items()])]

    def base_queryset(self):
        return GiftRequest.objects.filter(business=self.business).select_related("member", "gift")

    def apply(self, qs):
        if self.params.get("status") in GiftRequest.Status.values:
            qs = qs.filter(status=self.params["status"])
        if q := self.params.get("q", "").strip():
            qs = qs.filter(member__code=q.upper()) | qs.filter(gift__title__icontains=q)
        return qs


@panel_view(Scope.WRITE)
def request_queue(request):
    return RequestTable(request).respond({"search_hint": _("Member code or gift")})


REQUEST_STEPS = {"fulfil": (catalogue.fulfil_request, "note"), "reject": (catalogue.reject_request, "note"),
                 "ship": (catalogue.ship_request, "shipping_note")}


class NoteForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=1000, required=False)


@require_POST
@panel_view(Scope.WRITE)
def request_action(request, request_id: int, action: str):
    if action not in REQUEST_STEPS:
        raise NotFound("not_found")
    step, note_field = REQUEST_STEPS[action]
    form = NoteForm(request.POST)
    form.is_valid()
    note = form.cleaned_data.get("note", "")
    done = run_service(form, lambda: step(request.business, request_id, **{note_field: note}, actor=request.principal.actor))
    if done is None:
        for error in form.non_field_errors() + form.errors.get("note", []):
            messages.error(request, error)
    else:
        messages.success(request, {"fulfil": _("Request fulfilled."), "reject": _("Request rejected; the price was refunded."),
                                   "ship": _("Request marked shipped.")}[action])
    return redirect(request.POST.get("next") or reverse("panel:gift_requests"))


# --- gift credit ------------------------------------------------------------------------------------------

class GrantForm(forms.Form):
    who = forms.ChoiceField(label=gettext_lazy("To"), choices=[("member", gettext_lazy("One member")),
                                                                ("tier", gettext_lazy("Every member of a tier"))])
    member = forms.CharField(label=gettext_lazy("Member code or mobile"), max_length=20, required=False)
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)
    amount = AmountField(label=gettext_lazy("Gift credit amount"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)
    expires = DateField(label=gettext_lazy("Expires on"))

    def __init__(self, *args, tiers: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", "—"), *tiers.items()]


@panel_view(Scope.ADMIN)
def gift_credit(request):
    form = GrantForm(request.POST or None, tiers=tier_names(request.business, request.LANGUAGE_CODE), prefix="grant")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        member_ids, tier = None, None
        if data["who"] == "member":
            member = find_member(request.business, data["member"])
            if member is None:
                form.add_error("member", _("No member with this code or mobile."))
            member_ids = [member.pk] if member else None
        else:
            tier = data["tier"] or None
            if tier is None:
                form.add_error("tier", _("Choose a tier."))
        if form.is_valid():
            done = run_service(form, lambda: grant_gift_credit(
                request.business, amount=data["amount"], reason=data["reason"], member_ids=member_ids, tier=tier,
                expires_at=_end_of(request.business, data["expires"]), actor=request.principal.actor))
            if done is not None:
                messages.success(request, _("Gift credit granted to %(n)s members.") % {"n": num(done["members"])})
                return redirect("panel:gift_credit")
    return render(request, "panel/rewards/gift_credit.html", {"form": form})



# --- gift cards and causes ----------------------------------------------------------------------------------

class GiftCardTable(Table):
    template = "panel/rewards/gift_cards.html"
    export_name = "gift-cards"
    sheet_title = gettext_lazy("Gift cards")
    default_sort = "-created_at"

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = [
            Column("code", gettext_lazy("Code"), sort="code", kind="ltr"),
            Column("initial_amount", gettext_lazy("Amount"), sort="initial_amount", kind="money"),
            Column("balance", gettext_lazy("Balance"), sort="balance", kind="money"),
            Column("expires_at", gettext_lazy("Expires"), sort="expires_at", kind="date"),
            Column("created_at", gettext_lazy("Created"), sort="created_at", kind="date"),
        ]

    def base_queryset(self):
        return GiftCard.objects.filter(business=self.business)

    def apply(self, qs):
        if q := self.params.get("q", "").strip():
            qs = qs.filter(code__icontains=q.upper().replace("-", ""))
        return qs


class GiftCardForm(forms.Form):
    amount = AmountField(label=gettext_lazy("Amount"))
    expires = DateField(label=gettext_lazy("Expires on"))


@panel_view(Scope.ADMIN)
def gift_cards(request):
    form = GiftCardForm(request.POST or None, prefix="card")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        card = run_service(form, lambda: transaction.atomic(issue_gift_card)(
            request.business, amount=data["amount"], expires_at=_end_of(request.business, data["expires"])))
        if card is not None:
            messages.success(request, _("Gift card %(code)s issued: give the code to the buyer.") % {"code": card.code})
            return redirect("panel:gift_cards")
    return GiftCardTable(request).respond({"form": form, "search_hint": _("Code")})


class CauseForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code (latin letters)"), max_length=32)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    goal = AmountField(label=gettext_lazy("Goal in points (optional)"), required=False)
    description = forms.CharField(label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DonateForm(forms.Form):
    member = forms.CharField(label=gettext_lazy("Member code or mobile"), max_length=20)
    cause = forms.ChoiceField(label=gettext_lazy("Cause"))
    points = AmountField(label=gettext_lazy("Points"))


@panel_view(Scope.READ)
def causes(request):
    """GET /causes is read scope; defining a cause is admin, donating a member's points is write (the API's)."""
    action = request.POST.get("action")
    if action == "create":
        request.principal.require(Scope.ADMIN)
    form = CauseForm(request.POST if action == "create" else None, prefix="cause")
    listed = list(clubs_selectors.causes(request.business))
    donate = DonateForm(request.POST if action == "donate" else None, prefix="donate")
    donate.fields["cause"].choices = [(c.code, c.name) for c in listed if c.active]
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if run_service(form, lambda: clubs.create_cause(request.business, code=data["code"], name=data["name"],
                                                        description=data["description"], goal=data["goal"])):
            messages.success(request, _("Cause added."))
            return redirect("panel:causes")
    if donate.is_bound and donate.is_valid():
        data = donate.cleaned_data
        member = find_member(request.business, data["member"])
        if member is None:
            donate.add_error("member", _("No member with this code or mobile."))
        elif run_service(donate, lambda: clubs.donate(request.business, member.pk, data["cause"], data["points"],
                                                      actor=request.principal.actor)) is not None:
            messages.success(request, _("Donation recorded."))
            return redirect("panel:causes")
    totals = clubs_selectors.cause_totals(request.business)
    shown = [clubs.cause_json(cause, totals.get(cause.pk)) for cause in listed]
    donations = (Donation.objects.filter(business=request.business).select_related("member", "cause")
                 .order_by("-created_at")[:20])
    return render(request, "panel/rewards/causes.html", {
        "form": form, "donate": donate, "causes": shown, "donations": donations,
        "can_create": may(request, Scope.ADMIN), "can_donate": may(request, Scope.WRITE)},
        status=422 if form.errors or donate.errors else 200)
