"""The till (F57): a cashier's screens, each through the services the API uses. Every branch-bound view checks
the branch with the API's rule (a cashier acts only at their branches)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django import forms
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.access.permissions import Forbidden
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.messages import message
from vafa.members import services as member_services
from vafa.members.selectors import member_by_id
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.purchase_views import ReturnForm, _return_call, preview
from vafa.panel.templatetags.panel import digits
from vafa.purchases import activities
from vafa.purchases import services as purchase_services
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch
from vafa.till import selectors
from vafa.till.services import sync_offline_purchase


def till_view(scope: str, *, post_writes_nothing: bool = False):
    """panel_view (sign-in at the panel's login, the API's Principal, `post_writes_nothing` for a dry run) plus
    the branch in the URL, which a cashier must be bound to."""

    def decorate(view):
        def with_branch(request, branch_code: str, *args, **kwargs):
            branch = Branch.objects.filter(business=request.business, code=branch_code, active=True).first()
            try:
                if branch is None:
                    raise NotFound("unknown_branch")
                request.principal.require_branch(branch.pk)
                request.branch = branch
                return view(request, *args, **kwargs)
            except (Forbidden, NotFound) as exc:  # the till's own page: phone-sized, a way back to the till
                status = 403 if isinstance(exc, Forbidden) else 404
                return render(request, "till/forbidden.html", {
                    "reason": message(exc.detail, translation.get_language()), "status": status}, status=status)

        with_branch.__name__ = with_branch.__qualname__ = view.__name__
        with_branch.__doc__ = view.__doc__
        return panel_view(scope, post_writes_nothing=post_writes_nothing)(with_branch)

    return decorate


def _allowed_branches(request):
    branches = Branch.objects.filter(business=request.business, active=True).order_by("name")
    ids = request.principal.branch_ids
    return branches.filter(pk__in=ids) if ids is not None else branches


@panel_view(Scope.READ)
def choose_branch(request):
    branches = list(_allowed_branches(request))
    if len(branches) == 1:
        return redirect("till:branch", branches[0].code)
    return render(request, "till/choose.html", {"branches": branches})


class FindForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Mobile, card number or member code"), max_length=40)


class QuickSignUpForm(forms.Form):
    mobile = forms.CharField(label=gettext_lazy("Mobile"), max_length=32,
                             widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=100, required=False)


def _member_url(request, member) -> str:
    return reverse("till:member", args=[request.branch.code, member.pk])


@till_view(Scope.READ)
def branch_home(request):
    """Find the member: one input; not found → the quick sign-up with what was typed."""
    form = FindForm(request.GET or None)
    signup = None
    if request.GET and form.is_valid():
        try:
            return redirect(_member_url(request, selectors.find_by_any(request.business, form.cleaned_data["q"])))
        except NotFound:
            typed = to_ascii_digits(form.cleaned_data["q"]).strip()
            signup = QuickSignUpForm(initial={"mobile": typed if typed.lstrip("+").isdigit() else ""})
            form.add_error("q", _("No member found. Sign them up below."))
        except InvalidInput:
            form.add_error("q", _("Type a mobile, a card number or a member code."))
    return render(request, "till/home.html", {"form": form, "signup": signup,
                                              "problems": selectors.open_problems_at(request.business, request.branch)[:20]},
                  status=404 if signup else 200)


@require_POST
@till_view(Scope.WRITE)
def quick_signup(request):
    form = QuickSignUpForm(request.POST)
    if form.is_valid():
        member = run_service(form, lambda: member_services.sign_up(
            request.business, actor=request.principal.actor, join_source=f"till:{request.branch.code}",
            **form.cleaned_data))
        if member is not None:
            messages.success(request, _("Member signed up."))
            return redirect(_member_url(request, member))
    return render(request, "till/home.html", {"form": FindForm(), "signup": form}, status=422)


class PurchaseForm(forms.Form):
    total = AmountField(label=gettext_lazy("Purchase amount"))  # first: the field the cashier types into
    receipt = forms.CharField(label=gettext_lazy("Receipt number (optional)"), max_length=64, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr"}))
    lines = forms.CharField(label=gettext_lazy("Items (one per line: SKU quantity price)"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr"}))
    codes = forms.CharField(label=gettext_lazy("Discount codes"), required=False, max_length=200,
                            widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}))
    redeem_points = AmountField(label=gettext_lazy("Points to use"), required=False)
    redeem_wallet = AmountField(label=gettext_lazy("Wallet to use"), required=False)
    redeem_gift_credit = AmountField(label=gettext_lazy("Gift credit to use"), required=False)
    gift_card_code = forms.CharField(label=gettext_lazy("Gift card code"), max_length=40, required=False,
                                     widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off"}))
    gift_card_amount = AmountField(label=gettext_lazy("Amount from the gift card"), required=False)

    def clean(self):
        data = super().clean()
        code = to_ascii_digits(data.get("gift_card_code") or "").strip()
        if code and not data.get("gift_card_amount"):
            self.add_error("gift_card_amount", _("Type the amount to take from the gift card."))
        elif data.get("gift_card_amount") and not code:
            self.add_error("gift_card_code", _("Type or scan the gift card's code."))
        data["gift_card"] = {"code": code, "amount": data["gift_card_amount"]} if code and data.get(
            "gift_card_amount") else None
        return data

    def clean_lines(self):
        rows = []
        for n, text in enumerate(to_ascii_digits(self.cleaned_data.get("lines") or "").splitlines(), 1):
            parts = text.replace(",", "").split()
            if not parts:
                continue
            if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
                raise forms.ValidationError(_("Line %(n)s: write SKU, quantity and unit price.") % {"n": n})
            rows.append({"sku": parts[0], "quantity": int(parts[1]), "unit_price": int(parts[2])})
        return rows


def _form_key(request) -> str:
    return (request.POST.get("key") or "")[:64]


def _purchase_call(request, member, form: PurchaseForm, *, dry_run: bool):
    """Without a receipt number (a till with no receipt printer: find, amount, Enter), the form's own key names
    the purchase, so a second Enter on the same form is the same purchase."""
    data, key = form.cleaned_data, _form_key(request)
    receipt = data["receipt"].strip() or (f"T-{key[:16]}" if key else "")
    order = purchase_services.PurchaseInput(
        member_id=member.pk, branch_code=request.branch.code, receipt=receipt,
        total=data["total"], lines=data["lines"] or None, codes=[c for c in data["codes"].upper().split() if c],
        redeem_points=data["redeem_points"] or 0, redeem_wallet=data["redeem_wallet"] or 0,
        redeem_gift_credit=data["redeem_gift_credit"] or 0, gift_card=data["gift_card"], channel="till",
        on_bad_code="refuse")
    return lambda: purchase_services.record(request.business, order, dry_run=dry_run,
                                            idempotency_key=None if dry_run else key or None,
                                            actor=request.principal.actor)


def _member_page(request, member, form, *, status=200, result=None):
    return render(request, "till/member.html", {
        "member": member, "key": request.POST.get("key") or uuid.uuid4().hex, "form": form, "result": result, **selectors.member_panel(request.business, member, request.branch, request.LANGUAGE_CODE),
        "purchases": selectors.recent_purchases(request.business, member, request.principal.branch_ids),
        "cards": member.cards.filter(status="active").order_by("-issued_at"),
    }, status=status)


@till_view(Scope.READ)
def member_page(request, member_id: int):
    member = member_by_id(request.business, member_id)
    return _member_page(request, member, PurchaseForm(initial={"receipt": ""}))


@require_POST
@till_view(Scope.READ, post_writes_nothing=True)
def purchase_preview(request, member_id: int):
    """HTMX: the purchase service's dry run as the cashier types; writes nothing (no audit row either), and
    needs read scope as the API's dry run does."""
    member = member_by_id(request.business, member_id)
    form = PurchaseForm(request.POST)
    result = None
    if form.is_valid():
        result = run_service(form, _purchase_call(request, member, form, dry_run=True))
    return render(request, "till/partials/preview.html", {"form": form, "preview": result})


@require_POST
@till_view(Scope.WRITE)
def purchase_confirm(request, member_id: int):
    member = member_by_id(request.business, member_id)
    form = PurchaseForm(request.POST)
    if form.is_valid():  # the form's key: a double Enter or a resend is the same purchase
        result = run_service(form, _purchase_call(request, member, form, dry_run=False))
        if result is not None:
            member.refresh_from_db()
            return render(request, "till/done.html", {
                "member": member, "result": result,
                "sms": not result.get("replayed") and selectors.sms_receipt_goes(request.business, member, result)})
    return _member_page(request, member, form, status=422)


@require_POST
@till_view(Scope.WRITE)
def reward_use(request, member_id: int, reward_id: int):
    member = member_by_id(request.business, member_id)
    form = forms.Form(request.POST)
    if run_service(form, lambda: purchase_services.use_reward(
            request.business, member.pk, reward_id, branch_code=request.branch.code,
            actor=request.principal.actor)) is not None:
        messages.success(request, _("Reward handed over."))
    else:
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    return redirect(_member_url(request, member))


@require_POST
@till_view(Scope.WRITE)
def visit(request, member_id: int):
    member = member_by_id(request.business, member_id)
    form = forms.Form(request.POST)
    if run_service(form, lambda: activities.check_in(
            request.business, member_id=member.pk, branch_code=request.branch.code,
            actor=request.principal.actor)) is not None:
        messages.success(request, _("Visit recorded."))
    else:
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    return redirect(_member_url(request, member))


@require_POST
@till_view(Scope.WRITE)
def card_replace(request, member_id: int):
    member = member_by_id(request.business, member_id)
    number = request.POST.get("number", "")
    form = forms.Form(request.POST)
    done = run_service(form, lambda: member_services.replace_card(
        request.business, member_services.CardReplacement.check(member.pk, number), actor=request.principal.actor,
        idempotency_key=_form_key(request) or None))  # a second click on the same page: the same new card
    if done is not None:
        messages.success(request, _("New card %(number)s; the old number is blocked.") % {"number": digits(done.card.number)})
    else:
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    return redirect(_member_url(request, member))


@till_view(Scope.READ)
def purchase_return(request, purchase_id: int):
    """Return or cancel one of the member's purchases at this branch, with a preview of what is reversed."""
    purchase = (Purchase.objects.filter(business=request.business, pk=purchase_id, branch=request.branch)
                .select_related("member").first())
    if purchase is None:
        raise NotFound("purchase_not_found")
    form = ReturnForm(request.POST or None)
    result = None
    kind = request.POST.get("kind", "return")
    if request.method == "POST" and form.is_valid():
        request.principal.require(Scope.WRITE)
        call = _return_call(request, purchase, form, kind == "cancel")
        if request.POST.get("step") == "confirm":
            if run_service(form, call) is not None:
                messages.success(request, _("Purchase cancelled.") if kind == "cancel" else _("Return recorded."))
                return redirect(_member_url(request, purchase.member))
        else:
            result = run_service(form, lambda: preview(call))
    return render(request, "till/return.html", {"purchase": purchase, "form": form, "preview": result,
                                                "kind": kind}, status=422 if form.errors else 200)


@till_view(Scope.READ)
def today(request):
    return render(request, "till/today.html", {"report": selectors.today_at_branch(request.business, request.branch)})


@till_view(Scope.READ)
def problems(request):
    return render(request, "till/problems.html", {
        "problems": selectors.open_problems_at(request.business, request.branch)[:200]})


@till_view(Scope.READ)
def offline_cache(request):
    """The branch's recent members and plain earning rules, for the service worker's offline lookup."""
    return JsonResponse(selectors.offline_cache(request.business, request.branch))


@require_POST
@till_view(Scope.WRITE)
def sync(request):
    """One purchase registered offline, sent with its idempotency key (JSON; the session and CSRF header)."""
    try:
        body = json.loads(request.body)
        total = int(to_ascii_digits(str(body["total"])))
        member_id = int(body["member_id"])
        redeem_wallet = int(to_ascii_digits(str(body.get("redeem_wallet") or 0)))
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"status": "invalid"}, status=400)
    at = parse_datetime(str(body.get("occurred_at") or "")) or None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    answer = sync_offline_purchase(request.business, request.branch, key=str(body.get("key") or ""),
                                   member_id=member_id, receipt=str(body.get("receipt") or ""), total=total,
                                   occurred_at=at, actor=request.principal.actor,
                                   language=request.LANGUAGE_CODE, redeem_wallet=redeem_wallet)
    return JsonResponse(answer)


def manifest(request):
    return JsonResponse({
        "name": "Vafa till — صندوق وفا", "short_name": "صندوق", "lang": "fa", "dir": "rtl",
        "start_url": "/till/", "scope": "/till/", "display": "standalone", "background_color": "#ffffff",
        "theme_color": "#0d6efd",
        "icons": [{"src": "/static/till/icon-192.png", "sizes": "192x192", "type": "image/png"},
                  {"src": "/static/till/icon-512.png", "sizes": "512x512", "type": "image/png"}],
    }, content_type="application/manifest+json")


def service_worker(request):
    """The worker is a static file served from /till/ so that its scope is the whole till."""
    with open(finders.find("till/sw.js"), encoding="utf-8") as f:
        response = HttpResponse(f.read(), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/till/"
    response["Cache-Control"] = "no-cache"
    return response
