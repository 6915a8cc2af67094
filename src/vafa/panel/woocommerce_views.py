"""Settings → WooCommerce: the shop's connections with their state and last delivery, connect, rotate the secret
and disconnect. The secret is a credential (it lets whoever holds it register purchases), administered as the
API administers it (POST /api/v1/integrations/woocommerce: the owner's) and shown in full once, when made."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.core.errors import NotFound
from vafa.panel.auth import panel_view
from vafa.panel.forms import run_service
from vafa.panel.settings_views import _render
from vafa.tenancy.models import Branch
from vafa.woocommerce import services as woo
from vafa.woocommerce.models import WooConnection, WooOrder

SHOWN_SECRET = 4  # characters of a secret shown in the list, enough to tell two apart


class ConnectForm(forms.Form):
    branch = forms.ChoiceField(label=gettext_lazy("Branch the shop's orders count in"))
    sign_up_unknown = forms.ChoiceField(label=gettext_lazy("A customer who is not a member yet"),
                                        choices=[("yes", gettext_lazy("Sign them up")),
                                                 ("no", gettext_lazy("Do not sign them up"))])
    paid_statuses = forms.CharField(label=gettext_lazy("Order statuses that count as paid (comma-separated)"),
                                    initial="processing, completed", max_length=200)

    def __init__(self, *args, business, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [(b.code, b.name) for b in
                                         Branch.objects.filter(business=business, active=True).order_by("code")]


def _created(request, connection: WooConnection) -> None:
    """The delivery URL and the secret, for the next page only (popped there): a reload never shows it again."""
    request.session["new_woo_connection"] = {"id": connection.pk, "secret": connection.secret,
                                             "url": request.build_absolute_uri(woo.delivery_url(connection))}


@panel_view(Scope.ADMIN, area="api_keys")
def connections(request):
    b = request.business
    form = ConnectForm(request.POST or None, business=b)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        statuses = [s.strip() for s in data["paid_statuses"].replace("،", ",").split(",") if s.strip()]
        made = run_service(form, lambda: woo.create_connection(b, branch_code=data["branch"],
                                                               sign_up_unknown=data["sign_up_unknown"] == "yes",
                                                               paid_statuses=statuses))
        if made is not None:
            _created(request, made)
            return redirect("panel:settings_woocommerce")
    rows = list(WooConnection.objects.filter(business=b).select_related("branch").order_by("-active", "-pk"))
    for row in rows:
        row.url = request.build_absolute_uri(woo.delivery_url(row))
        row.secret_start = row.secret[:SHOWN_SECRET]
        row.recent = list(WooOrder.objects.filter(business=b, connection=row).order_by("-updated_at")[:5])
        row.order_count = WooOrder.objects.filter(business=b, connection=row).count()
    return _render(request, "woocommerce", {"form": form, "connections": rows,
                                            "created": request.session.pop("new_woo_connection", None)},
                   422 if form.errors else 200)


@require_POST
@panel_view(Scope.ADMIN, area="api_keys")
def connection_action(request, connection_id: int, action: str):
    """rotate: a new connection for the same branch and settings, with a new secret and URL (docs/woocommerce.md:
    put them into WooCommerce, then disconnect the old one, whose orders are found again by their receipt);
    deactivate: the old URL answers 404 from now on."""
    b = request.business
    connection = WooConnection.objects.filter(business=b, pk=connection_id).select_related("branch").first()
    if connection is None or action not in ("rotate", "deactivate"):
        raise NotFound("woocommerce_connection_not_found")
    form = forms.Form()
    if action == "rotate":
        made = run_service(form, lambda: woo.create_connection(
            b, branch_code=connection.branch.code, sign_up_unknown=connection.sign_up_unknown,
            paid_statuses=connection.paid_statuses))
        if made is not None:
            _created(request, made)
    elif run_service(form, lambda: woo.deactivate_connection(b, connection.pk)) is not None:
        messages.success(request, _("Disconnected: the shop's deliveries to this address are refused from now on."))
    for error in form.non_field_errors():
        messages.error(request, error)
    return redirect("panel:settings_woocommerce")
