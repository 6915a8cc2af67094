"""The setup wizard (seed 003's steps: who the customers are, the goal, the benefits, a budget): the kind of
business proposes a program the owner adjusts in plain fields; it is activated through the program service
the API's PUT /program uses, and ends with a printable loyalty table and customer handbook."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.access.models import Scope
from vafa.core.errors import NotFound
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.models import ProgramBudget
from vafa.panel.services import activate_with_budget
from vafa.program.document import localize
from vafa.program.selectors import active_program

# kind → what it proposes: how members earn, the step of money or visits, tiers, what 100 points are worth.
KINDS = {
    "cafe": {"title": gettext_lazy("Café or restaurant"), "mechanism": "stamps", "per": 100_000, "award": 10,
             "stamp_every": 8, "stamp_reward": "نوشیدنی رایگان", "tiers": False, "point_value": 10_000,
             "expiry_days": 180},
    "clinic": {"title": gettext_lazy("Clinic or dentist"), "mechanism": "visit", "per": 1, "award": 50,
               "stamp_every": 5, "stamp_reward": "", "tiers": True, "point_value": 20_000, "expiry_days": 365},
    "retail": {"title": gettext_lazy("Clothing or retail shop"), "mechanism": "amount", "per": 100_000,
               "award": 10, "stamp_every": 5, "stamp_reward": "", "tiers": True, "point_value": 10_000,
               "expiry_days": 365},
    "online": {"title": gettext_lazy("Online shop"), "mechanism": "amount", "per": 100_000, "award": 10,
               "stamp_every": 5, "stamp_reward": "", "tiers": True, "point_value": 5_000, "expiry_days": 180},
    "school": {"title": gettext_lazy("School or course"), "mechanism": "visit", "per": 1, "award": 20,
               "stamp_every": 10, "stamp_reward": "", "tiers": False, "point_value": 10_000, "expiry_days": 365},
}
GOALS = [("visits", gettext_lazy("More frequent visits")), ("basket", gettext_lazy("Bigger purchases")),
         ("return", gettext_lazy("Bring back customers who stopped coming")),
         ("referrals", gettext_lazy("New customers through referrals"))]
CUSTOMERS = [("regulars", gettext_lazy("Mostly regulars from the neighbourhood")),
             ("occasional", gettext_lazy("Many occasional customers")),
             ("online", gettext_lazy("Customers who buy online"))]
MECHANISMS = [("amount", gettext_lazy("Points for every amount spent")), ("visit", gettext_lazy("Points for every visit")),
              ("stamps", gettext_lazy("Stamps: every Nth purchase earns a reward"))]


class WizardForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind of business"), choices=[(k, v["title"]) for k, v in KINDS.items()])
    customers = forms.ChoiceField(label=gettext_lazy("Who your customers are"), choices=CUSTOMERS)
    goal = forms.ChoiceField(label=gettext_lazy("The club's main goal"), choices=GOALS)
    mechanism = forms.ChoiceField(label=gettext_lazy("How members earn"), choices=MECHANISMS)
    per = AmountField(label=gettext_lazy("Points are given for every … (amount in money, or visits)"))
    award = AmountField(label=gettext_lazy("… this many points"))
    stamp_every = AmountField(label=gettext_lazy("Stamps: a reward every … purchases"), required=False)
    stamp_reward = forms.CharField(label=gettext_lazy("Stamps: the reward"), max_length=64, required=False)
    tiers = forms.BooleanField(label=gettext_lazy("Tiers (bronze, silver, gold) for the best customers"), required=False)
    point_value = AmountField(label=gettext_lazy("100 points are worth (loyalty table)"))
    expiry_days = AmountField(label=gettext_lazy("Points expire after … days"))
    monthly_budget = AmountField(label=gettext_lazy("Monthly budget for rewards (optional)"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("mechanism") == "stamps" and not (data.get("stamp_every") and data.get("stamp_reward")):
            self.add_error("stamp_reward", _("Stamps need a number of purchases and a reward."))
        for name in ("per", "award", "point_value", "expiry_days"):
            if data.get(name) is not None and data[name] <= 0:
                self.add_error(name, _("Must be greater than zero."))
        return data


def proposal_document(data: dict) -> dict:
    """A program document from the wizard's plain fields (validated by the program service on activation)."""
    mechanism = data["mechanism"]
    rules: list[dict] = []
    if mechanism == "visit":
        rules.append({"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "per": data["per"],
                      "award": data["award"], "name": {"fa": "امتیاز مراجعه", "en": "Visit points"}})
    else:
        rules.append({"id": "base", "kind": "earn", "per": data["per"], "award": data["award"],
                      "name": {"fa": "امتیاز خرید", "en": "Purchase points"}})
    if mechanism == "stamps":
        rules.append({"id": "stamps", "kind": "stamp", "every": data["stamp_every"],
                      "reward": {"code": "stamp-reward", "name": data["stamp_reward"]},
                      "name": {"fa": "کارت مهر", "en": "Stamp card"}})
    document: dict = {
        "name": {"fa": "باشگاه مشتریان", "en": "Customer club"},
        "settings": {"currencies": {"points": {"expiry_days": data["expiry_days"], "pending_days": 0}}},
        "rules": rules,
        "loyalty_table": {"rates": [{"name": {"fa": "نرخ پایه", "en": "Base rate"}, "points": 100,
                                     "value": data["point_value"]}]},
    }
    if data["tiers"]:
        step = data["per"] if mechanism != "visit" else 100_000
        document["tiers"] = {"basis": "spend", "window_days": 365, "review_every_days": 30, "levels": [
            {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
            {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": step * 50, "multiplier": "1.5"},
            {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": step * 200, "multiplier": 2,
             "discount_percent": 5}]}
    return document


@panel_view(Scope.ADMIN, area="program")
def setup(request):
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else "cafe"
    proposal = KINDS[kind]
    budget = ProgramBudget.objects.filter(business=request.business).first()
    initial = {"kind": kind, "customers": "regulars", "goal": "visits",
               "monthly_budget": budget.monthly_amount if budget else None,
               **{k: v for k, v in proposal.items() if k != "title"}}
    form = WizardForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if run_service(form, lambda: activate_with_budget(request.business, proposal_document(data),
                                                          data.get("monthly_budget"),
                                                          actor=request.principal.actor)) is not None:
            messages.success(request, _("Your program is active. Print the loyalty table and the handbook below."))
            return redirect("panel:setup_handbook")
    return render(request, "panel/setup/wizard.html", {"form": form, "kinds": KINDS, "kind": kind},
                  status=422 if form.errors else 200)


def _rule_line(rule, lang: str) -> dict:
    """What the handbook says of a rule: the plain cases in a sentence, any other rule by its name."""
    line = {"name": localize(rule.name, lang) or rule.id, "kind": "other"}
    if rule.kind == "earn" and not rule.when.model_dump(exclude_defaults=True):
        if rule.on == "visit" and rule.basis == "visit" and rule.per == 1:
            line |= {"kind": "visit", "award": rule.award}
        elif rule.on == "purchase" and rule.basis == "amount":
            line |= {"kind": "amount", "award": rule.award, "per": rule.per}
    elif rule.kind == "stamp":
        line |= {"kind": "stamp", "every": rule.every, "reward": localize(rule.reward.name, lang) or rule.reward.code}
    return line


@panel_view(Scope.READ)
def handbook(request):
    """The loyalty table and a one-page customer handbook ("how our club works"), print-styled: the browser
    prints it or saves it as PDF (it shapes Persian text; no server-side PDF library needed)."""
    try:
        version, document = active_program(request.business)
    except NotFound:
        return redirect("panel:setup")
    lang = request.LANGUAGE_CODE
    tiers = [{"name": localize(level.name, lang), "threshold": level.threshold, "multiplier": float(level.multiplier),
              "discount": float(level.discount_percent)} for level in (document.tiers.levels if document.tiers else [])]
    rates = [{"name": localize(rate.name, lang), "points": rate.points, "value": rate.value}
             for rate in (document.loyalty_table.rates if document.loyalty_table else [])]
    examples = [(rate, [(points, points * rate["value"] // rate["points"]) for points in (100, 500, 1000, 5000)])
                for rate in rates]
    rules = [_rule_line(rule, lang) for rule in document.rules]
    return render(request, "panel/setup/handbook.html", {
        "version": version, "document": document, "tiers": tiers, "examples": examples, "rules": rules,
        "expiry_days": document.settings.currency("points").expiry_days,
        "join_url": f"/join/{request.business.slug}/",
    })
