"""Sign-in, sign-out, the language switch and the dashboard."""


from django.conf import settings
from django.contrib.auth import logout as sign_out
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vafa.access.services import set_operator_language
from vafa.core.calendar import JALALI_MONTHS, format_date
from vafa.panel import selectors
from vafa.panel.auth import panel_view
from vafa.panel.labels import label


class LoginView(auth_views.LoginView):
    """The existing operator accounts (Argon2, and the throttling backend every login form goes through)."""

    template_name = "panel/login.html"
    redirect_authenticated_user = False

    def dispatch(self, request, *args, **kwargs):
        # Persian first, whatever the browser asks: an operator who chose English has the cookie set below.
        translation.activate(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = translation.get_language()
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return reverse("panel:dashboard")


@require_POST
def logout(request):
    sign_out(request)
    return HttpResponseRedirect(reverse("panel:login"))


@require_POST
@panel_view("read")
def language(request):
    """Any operator, an analyst too, chooses the panel's language (the only form an analyst may submit: it writes
    the operator's own preference, no business data)."""
    chosen = request.POST.get("language")
    if chosen in ("fa", "en"):
        set_operator_language(request.operator, chosen)
    target = request.POST.get("next") or reverse("panel:dashboard")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("panel:dashboard")
    response = HttpResponseRedirect(target)
    if chosen in ("fa", "en"):  # the sign-in page, before we know who it is, speaks it too
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def month_name(business, start, language: str) -> str:
    if business.calendar == "jalali" and language == "fa":
        return f"{JALALI_MONTHS[int(format_date(start, 'jalali', 'en')[5:7]) - 1]} {format_date(start, 'jalali', 'fa')[:4]}"
    return format_date(start, business.calendar, "en")[:7]


@panel_view("read")
def dashboard(request):
    business = request.business
    lang = request.LANGUAGE_CODE
    figures, computed_at = selectors.dashboard_figures(business)
    months, tiers, sources, effect = figures["months"], figures["tiers"], figures["sources"], figures["effect"]
    names = selectors.tier_names(business, lang)
    for row in effect["rows"]:
        row["cohort_name"] = month_name(business, row["cohort"], lang)
    own = request.principal.branch_ids
    charts = {
        "months": {"labels": [month_name(business, m.start, lang) for m in months],
                   "revenue": [m.revenue for m in months], "visits": [m.visits for m in months],
                   "revenue_label": _("Member revenue"), "visits_label": _("Visits")},
        "tiers": {"labels": [names.get(tier, tier) or _("No tier") for tier, _n in tiers], "values": [n for _t, n in tiers]},
        "sources": {"labels": [source or _("Unknown") for source, _n in sources], "values": [n for _s, n in sources]},
    }
    return render(request, "panel/dashboard.html", {
        "counts": figures["counts"], "liability": figures["liability"], "flow": figures["flow"], "months": months,
        "tiers": tiers, "sources": sources, "effect": effect, "computed_at": computed_at,
        "branches": [b for b in figures["branches"] if own is None or b["branch_id"] in own],
        "cost": selectors.against_budget(business, figures["rewards_cost"]),
        "charts": charts, "currency_label": label("currency", "points"),
    })
