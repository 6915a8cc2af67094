"""Settings: business profile and branches (owner or manager), operators, API keys and webhooks (owner only,
as in the API). Each form calls the service the API or the command line calls."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access import services as access
from vafa.access.models import ApiKey, Operator, Scope
from vafa.core.errors import NotFound
from vafa.core.images import picture_response
from vafa.core.money import currency_choices
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS
from vafa.panel.models import BusinessLogo
from vafa.panel.selectors import active_days
from vafa.panel.services import LOGO_MAX_BYTES, set_active_days, set_logo
from vafa.tenancy import services as tenancy
from vafa.tenancy.models import Branch
from vafa.webhooks import selectors as webhook_selectors
from vafa.webhooks import services as webhooks
from vafa.webhooks.models import ALL_EVENTS, EVENT_TYPES

TABS = [("profile", gettext_lazy("Business")), ("branches", gettext_lazy("Branches")), ("operators", gettext_lazy("Operators")),
        ("keys", gettext_lazy("API keys")), ("webhooks", gettext_lazy("Webhooks")),
        ("woocommerce", gettext_lazy("WooCommerce"))]


def _render(request, tab: str, context: dict, status: int = 200):
    return render(request, f"panel/settings/{tab}.html", {"tabs": TABS, "tab": tab, **context}, status=status)


class ProfileForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Business name"), max_length=200)
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), choices=currency_choices)
    calendar = forms.ChoiceField(label=gettext_lazy("Calendar"), choices=[("jalali", gettext_lazy("Jalali")), ("gregorian", gettext_lazy("Gregorian"))])
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=[("fa", "فارسی"), ("en", "English")])
    timezone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    logo = forms.FileField(label=gettext_lazy("Logo (PNG, JPEG or WebP, up to 200 KB)"), required=False)
    # the contact members see in their portal
    contact_phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32, required=False,
                                    widget=forms.TextInput(attrs={"type": "tel", "dir": "ltr"}))
    contact_address = forms.CharField(label=gettext_lazy("Address"), required=False,
                                      widget=forms.Textarea(attrs={"rows": 2}))
    website = forms.CharField(label=gettext_lazy("Website"), max_length=300, required=False,
                              widget=forms.TextInput(attrs={"type": "url", "dir": "ltr"}))
    instagram = forms.CharField(label=gettext_lazy("Instagram (the handle)"), max_length=31, required=False,
                                widget=forms.TextInput(attrs={"dir": "ltr"}))
    offline_spend_allowance = AmountField(label=gettext_lazy(
        "Offline spending allowance per member, from the wallet (0: none)"), required=False)

    active_days = AmountField(label=gettext_lazy("A member is active with a purchase in the last … days"),
                              required=False)

    def clean_offline_spend_allowance(self):
        return self.cleaned_data.get("offline_spend_allowance") or 0


@panel_view(Scope.ADMIN)
def profile(request):
    b = request.business
    panel_fields = ("logo", "active_days")
    form = ProfileForm(request.POST or None, request.FILES or None,
                       initial={f: getattr(b, f) for f in ProfileForm.base_fields if f not in panel_fields}
                       | {"active_days": active_days(b)})
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k in form.changed_data and k not in panel_fields}
        upload = form.cleaned_data.get("logo")

        def save():
            with transaction.atomic():
                if upload:
                    set_logo(b, upload.read(LOGO_MAX_BYTES + 1))
                if form.cleaned_data["active_days"] is not None:
                    set_active_days(b, form.cleaned_data["active_days"])
                return tenancy.update_business(b, **changes)

        if run_service(form, save) is not None:
            messages.success(request, _("Saved."))
            return redirect("panel:settings")
    return _render(request, "profile", {"form": form}, 422 if form.errors else 200)


class BranchForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code"), max_length=32)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    address = forms.CharField(label=gettext_lazy("Address"), required=False)


@panel_view(Scope.ADMIN)
def branches(request):
    form = BranchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if run_service(form, lambda: tenancy.create_branch(request.business, **form.cleaned_data)) is not None:
            messages.success(request, _("Branch added."))
            return redirect("panel:settings_branches")
    return _render(request, "branches", {"form": form, "branches": Branch.objects.filter(
        business=request.business).order_by("code")}, 422 if form.errors else 200)


class OperatorForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password (at least 8 characters; empty: send an invitation link)"),
                               min_length=8, required=False, widget=forms.PasswordInput)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=list(LABELS["role"].items()), initial="cashier")
    branches = forms.MultipleChoiceField(label=gettext_lazy("Branches (a cashier's)"), required=False)


@panel_view(Scope.ADMIN, area="operators")
def operators(request):
    b = request.business
    form = OperatorForm(request.POST or None)
    all_branches = list(Branch.objects.filter(business=b).order_by("code"))
    form.fields["branches"].choices = [(str(br.pk), br.name) for br in all_branches]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = [br for br in all_branches if str(br.pk) in data["branches"]]
        made = run_service(form, lambda: access.create_operator(
            b, username=data["username"], password=data["password"] or None, role=data["role"], branches=chosen))
        if made is not None:
            if data["password"]:
                messages.success(request, _("Operator added: they can sign in now."))
            else:  # shown once, on the next page; it works until the password is set
                request.session["invite_link"] = request.build_absolute_uri(invite_path(made.user))
            return redirect("panel:settings_operators")
    rows = Operator.objects.filter(business=b).select_related("user").prefetch_related("branches").order_by("pk")
    return _render(request, "operators", {"form": form, "operators": rows, "all_branches": all_branches,
                                          "invite_link": request.session.pop("invite_link", None)},
                   422 if form.errors else 200)


def invite_path(user) -> str:
    """A one-time link: Django's password-reset token, which stops working once the password is set."""
    return reverse("panel:invite", args=[urlsafe_base64_encode(force_bytes(user.pk)),
                                         default_token_generator.make_token(user)])


def invite(request, uid: str, token: str):
    """An invited operator chooses a password (no sign-in yet), then signs in."""
    try:
        user = get_user_model().objects.get(pk=int(urlsafe_base64_decode(uid).decode()))
    except (ValueError, TypeError, get_user_model().DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "panel/invite.html", {"expired": True}, status=404)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("panel:login")
    return render(request, "panel/invite.html", {"form": form, "invited": user})


@require_POST
@panel_view(Scope.ADMIN, area="operators")
def operator_active(request, operator_id: int):
    form = forms.Form(data={})
    form.is_valid()  # a bound, cleaned form takes the service's errors
    if run_service(form, lambda: access.set_operator_active(request.business, operator_id,
                                                            request.POST.get("active") == "1")) is None:
        messages.error(request, " ".join(form.non_field_errors()))
    return redirect("panel:settings_operators")


class KeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (what uses it)"), max_length=100)
    scope = forms.ChoiceField(label=gettext_lazy("Scope"), choices=list(LABELS["scope"].items()), initial=Scope.WRITE)
    branch = forms.ChoiceField(label=gettext_lazy("Branch (empty: every branch)"), required=False)


@panel_view(Scope.ADMIN, area="api_keys")
def keys(request):
    b = request.business
    form = KeyForm(request.POST or None)
    all_branches = list(Branch.objects.filter(business=b).order_by("code"))
    form.fields["branch"].choices = [("", "—")] + [(str(br.pk), br.name) for br in all_branches]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        branch = next((br for br in all_branches if str(br.pk) == data["branch"]), None)
        made = run_service(form, lambda: access.create_api_key(b, scope=data["scope"], branch=branch, name=data["name"]))
        if made is not None:
            # Shown on the next page only (popped from the session there), so a reload neither shows it again
            # nor posts a second key; only its hash is stored.
            request.session["new_api_key"] = made[1]
            return redirect("panel:settings_keys")
    created = request.session.pop("new_api_key", None)
    rows = ApiKey.objects.filter(business=b).select_related("branch").order_by("-pk")
    return _render(request, "keys", {"form": form, "keys": rows, "created": created}, 422 if form.errors else 200)


@require_POST
@panel_view(Scope.ADMIN, area="api_keys")
def key_revoke(request, key_id: int):
    access.revoke_api_key(request.business, key_id)
    messages.success(request, _("Key revoked: it no longer works."))
    return redirect("panel:settings_keys")


class WebhookForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("URL (https)"), max_length=500)
    events = forms.MultipleChoiceField(label=gettext_lazy("Events"), choices=[(ALL_EVENTS, gettext_lazy("All events")), *((e, e) for e in EVENT_TYPES)],
                                       widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)


@panel_view(Scope.ADMIN, area="webhooks")
def webhook_list(request):
    b = request.business
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if run_service(form, lambda: webhooks.create_endpoint(b, url=data["url"], events=data["events"],
                                                              description=data["description"])) is not None:
            messages.success(request, _("Webhook added."))
            return redirect("panel:settings_webhooks")
    endpoints = list(webhook_selectors.endpoints(b))
    recent = {e.pk: list(webhook_selectors.deliveries(e)[:10]) for e in endpoints}
    return _render(request, "webhooks", {"form": form, "endpoints": [(e, recent[e.pk]) for e in endpoints]},
                   422 if form.errors else 200)


@require_POST
@panel_view(Scope.ADMIN, area="webhooks")
def webhook_action(request, webhook_id: int, action: str):
    """Send a test event to an endpoint, or retry one of its deliveries now."""
    form = forms.Form()
    b = request.business
    if action == "test":
        done = run_service(form, lambda: webhooks.send_test(b, webhook_id))
    else:
        delivery_id = request.POST.get("delivery", "")
        done = run_service(form, lambda: webhooks.retry_delivery(b, int(delivery_id) if delivery_id.isdigit() else 0))
    if done is None:
        messages.error(request, " ".join(form.non_field_errors()))
    else:
        messages.success(request, _("Queued: the worker sends it within a minute."))
    return redirect("panel:settings_webhooks")


@panel_view(Scope.READ)
def logo(request):
    found = BusinessLogo.objects.filter(business=request.business).first()
    if found is None:
        raise NotFound("not_found")
    response = picture_response(bytes(found.data), found.content_type)
    response["Cache-Control"] = "private, max-age=300"
    return response
