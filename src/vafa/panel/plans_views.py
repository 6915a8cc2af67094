"""Paid plans (VIP): the active program's plans with their subscribers; a plan created or changed as a new program
version (PUT /api/v1/program's rule: the owner's); a member subscribed (POST /members/{id}/subscriptions) and a
renewal stopped (POST /subscriptions/{id}/stop-renewal), both write scope as in the API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.clubs import services as clubs
from vafa.clubs.models import Subscription
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.messages import message
from vafa.panel.auth import may, panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS
from vafa.panel.program_views import find_member, said
from vafa.panel.services import save_plan
from vafa.panel.tables import Column, Filter, Table
from vafa.program.document import localize
from vafa.program.selectors import active_program

PERIODS = list(LABELS["period"].items())


def plan_rows(business, language: str) -> list[dict]:
    """The active program's plans as the operator reads them, with their active subscribers."""
    _version, document = active_program(business)
    counts = dict(Subscription.objects.filter(business=business, status=Subscription.Status.ACTIVE)
                  .values_list("plan").annotate(n=Count("member_id", distinct=True)))
    shown = [plan.model_dump(mode="json") for plan in document.plans]  # exact numbers as the document writes them
    return [{"code": plan["code"], "name": localize(plan["name"], language), "price": plan["price"],
             "period": plan["period"], "multiplier": plan["multiplier"], "discount_percent": plan["discount_percent"],
             "perks": [localize(perk, language) for perk in plan["perks"]], "subscribers": counts.get(plan["code"], 0)}
            for plan in shown]


class SubscriptionTable(Table):
    template = "panel/rewards/plans.html"
    actions_template = "panel/rewards/subscription_actions.html"
    export_name = "subscriptions"
    default_sort = "-starts_at"

    def __init__(self, request, plans: list[dict]) -> None:
        super().__init__(request)
        names = {plan["code"]: plan["name"] for plan in plans}
        self.columns = [
            Column("member", gettext_lazy("Member"), get=lambda s: s.member.full_name or s.member.code,
                   link=lambda s: reverse("panel:member", args=[s.member_id])),
            Column("plan", gettext_lazy("Plan"), sort="plan", get=lambda s: names.get(s.plan, s.plan)),
            Column("price", gettext_lazy("Price"), sort="price", kind="money"),
            Column("payment", gettext_lazy("Payment"), kind="label:payment"),
            Column("starts_at", gettext_lazy("From"), sort="starts_at", kind="date"),
            Column("ends_at", gettext_lazy("Until"), sort="ends_at", kind="date"),
            Column("auto_renew", gettext_lazy("Renews"), get=lambda s: _("Yes") if s.auto_renew else _("No")),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:subscription"),
        ]
        self.filters = [Filter("plan", gettext_lazy("Plan"), list(names.items())),
                        Filter("status", gettext_lazy("Status"), [(k, str(v)) for k, v in LABELS["subscription"].items()])]

    def base_queryset(self):
        return Subscription.objects.filter(business=self.business).select_related("member")

    def apply(self, qs):
        if self.params.get("plan"):
            qs = qs.filter(plan=self.params["plan"])
        if self.params.get("status") in Subscription.Status.values:
            qs = qs.filter(status=self.params["status"])
        if q := self.params.get("q", "").strip():
            qs = qs.filter(member__code=q.upper())
        return qs


class SubscribeForm(forms.Form):
    member = forms.CharField(label=gettext_lazy("Member code or mobile"), max_length=20)
    plan = forms.ChoiceField(label=gettext_lazy("Plan"))
    payment = forms.ChoiceField(label=gettext_lazy("Payment"), choices=list(LABELS["payment"].items()))
    auto_renew = forms.ChoiceField(label=gettext_lazy("Renew from the wallet when it ends"),
                                   choices=[("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))])

    def __init__(self, *args, plans: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [(plan["code"], plan["name"]) for plan in plans]


@panel_view(Scope.READ)
def plans(request):
    """The plans and their subscribers; the form subscribes a member (a POST: write scope, as in the API)."""
    shown = plan_rows(request.business, request.LANGUAGE_CODE)
    form = SubscribeForm(request.POST or None, plans=shown, prefix="sub")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        member = find_member(request.business, data["member"])
        if member is None:
            form.add_error("member", message("member_not_found", request.LANGUAGE_CODE[:2]))
        elif run_service(form, lambda: clubs.subscribe(
                request.business, member.pk, data["plan"], payment=data["payment"],
                auto_renew=data["auto_renew"] == "yes", actor=request.principal.actor)) is not None:
            messages.success(request, _("%(member)s subscribed.") % {"member": member.full_name or member.code})
            return redirect("panel:plans")
    return SubscriptionTable(request, shown).respond({
        "plans": shown, "form": form, "can_write": may(request, Scope.WRITE),
        "can_edit": may(request, Scope.ADMIN, "program"), "search_hint": _("Member code")})


@require_POST
@panel_view(Scope.WRITE)
def stop_renewal(request, subscription_id: int):
    form = forms.Form()
    if run_service(form, lambda: clubs.stop_renewal(request.business, subscription_id,
                                                     actor=request.principal.actor)) is None:
        for error in form.non_field_errors():
            messages.error(request, error)
    else:
        messages.success(request, _("It will not be renewed; the member keeps the plan to the end of the period."))
    return redirect(reverse("panel:plans") + "?status=active")


class PlanForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code (latin letters)"), max_length=32)
    name_fa = forms.CharField(label=gettext_lazy("Name in Persian"), max_length=200)
    name_en = forms.CharField(label=gettext_lazy("Name in English (optional)"), max_length=200, required=False)
    price = AmountField(label=gettext_lazy("Price per period"))
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIODS)
    multiplier = forms.CharField(label=gettext_lazy("Points multiplier (1: as everyone)"), max_length=16, initial="1")
    discount_percent = forms.CharField(label=gettext_lazy("Discount on every purchase, percent"), max_length=16,
                                       initial="0")
    reminder_days = AmountField(label=gettext_lazy("Remind the member … days before it ends"), initial=7)
    perks = forms.CharField(label=gettext_lazy("Perks in Persian, one per line"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))
    perks_en = forms.CharField(label=gettext_lazy("Perks in English (optional), one per line, in the same order"),
                               required=False, widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}))

    def clean(self):
        data = super().clean()
        english = _lines(data.get("perks_en", ""))
        if english and len(english) != len(_lines(data.get("perks", ""))):
            self.add_error("perks_en", _("Write one English line for each Persian perk, or none."))
        return data

    def document(self) -> dict:
        """The plan as the program document writes it; the program's validation judges it."""
        data = self.cleaned_data
        name = {"fa": data["name_fa"].strip(), "en": data["name_en"].strip()} if data["name_en"].strip() \
            else data["name_fa"].strip()
        return {"code": data["code"].strip(), "name": name, "price": data["price"], "period": data["period"],
                "multiplier": to_ascii_digits(data["multiplier"]).strip(),
                "discount_percent": to_ascii_digits(data["discount_percent"]).strip(),
                "reminder_days": data["reminder_days"],
                "perks": _perks(_lines(data["perks"]), _lines(data["perks_en"]))}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _perks(persian: list[str], english: list[str]) -> list:
    """Each perk in both languages when English is given (the form checked the counts match), else Persian."""
    if not english:
        return persian
    return [{"fa": fa, "en": en} for fa, en in zip(persian, english, strict=True)]


def _initial(plan: dict) -> dict:
    name = plan.get("name", "")
    english = [perk.get("en", "") if isinstance(perk, dict) else "" for perk in plan.get("perks", [])]
    return {"code": plan["code"], "name_fa": localize(name, "fa"),
            "name_en": name.get("en", "") if isinstance(name, dict) else "", "price": plan.get("price"),
            "period": plan.get("period"), "multiplier": str(plan.get("multiplier", 1)),
            "discount_percent": str(plan.get("discount_percent", 0)), "reminder_days": plan.get("reminder_days", 7),
            "perks": "\n".join(localize(perk, "fa") for perk in plan.get("perks", [])),
            "perks_en": "\n".join(english) if all(english) else ""}


@panel_view(Scope.ADMIN, area="program")
def plan_form(request, plan_code: str | None = None):
    """A new plan, or a change to one: a new version of the program (its code, which subscriptions name, stays)."""
    version, _document = active_program(request.business)
    held = next((p for p in version.document.get("plans", []) if p.get("code") == plan_code), None)
    if plan_code is not None and held is None:
        raise NotFound("not_found")
    form = PlanForm(request.POST or None, initial=_initial(held) if held else None)
    if held:
        form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            save_plan(request.business, form.document(), new=held is None, actor=request.principal.actor)
        except InvalidInput as exc:
            for error in exc.errors:
                text = said(message(error["message"], request.LANGUAGE_CODE[:2]))
                field = {"name": "name_fa"}.get(error["field"], error["field"])
                form.add_error(field if field in form.fields else None, text)
        else:
            messages.success(request, _("Saved: the program has a new version."))
            return redirect("panel:plans")
    return render(request, "panel/rewards/plan_form.html", {"form": form, "plan_code": plan_code},
                  status=422 if form.errors else 200)
