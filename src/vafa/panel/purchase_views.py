"""Purchases: the filtered, exportable list (a cashier's own branches only, as in the API), the detail with
lines and effects, and return / cancel with a preview of exactly what will be reversed."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vafa.access.models import Scope
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import NotFound
from vafa.ledger.models import Entry
from vafa.panel.auth import panel_view
from vafa.panel.forms import AmountField, run_service
from vafa.panel.labels import LABELS
from vafa.panel.tables import Column, Filter, Table
from vafa.purchases import services
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch


def purchase_url(purchase) -> str:
    return reverse("panel:purchase", args=[purchase.pk])


class PurchaseTable(Table):
    template = "panel/purchases/list.html"
    export_name = "purchases"
    sheet_title = gettext_lazy("Purchases")
    default_sort = "-occurred_at"

    def __init__(self, request) -> None:
        super().__init__(request)
        self.columns = [
            Column("occurred_at", gettext_lazy("When"), sort="occurred_at", kind="datetime", link=purchase_url),
            Column("receipt", gettext_lazy("Receipt"), sort="receipt", kind="ltr", link=purchase_url),
            Column("branch", gettext_lazy("Branch"), sort="branch__name", get=lambda p: p.branch.name),
            Column("member", gettext_lazy("Member"), get=lambda p: p.member.full_name or p.member.code,
                   link=lambda p: reverse("panel:member", args=[p.member_id])),
            Column("total", gettext_lazy("Total"), sort="total", kind="money"),
            Column("payable", gettext_lazy("Paid"), sort="payable", kind="money"),
            Column("status", gettext_lazy("Status"), sort="status", kind="label:purchase_status"),
        ]
        branches = self.branches()
        self.filters = [
            Filter("branch", gettext_lazy("Branch"), [(str(b.pk), b.name) for b in branches]),
            Filter("from", gettext_lazy("From"), kind="date"), Filter("to", gettext_lazy("To"), kind="date"),
            Filter("min", gettext_lazy("Total at least"), kind="number"), Filter("max", gettext_lazy("Total at most"), kind="number"),
            Filter("status", gettext_lazy("Status"), [(k, str(v)) for k, v in LABELS["purchase_status"].items()]),
        ]

    def branches(self):
        branches = Branch.objects.filter(business=self.business).order_by("name")
        allowed = self.request.principal.branch_ids
        return branches.filter(pk__in=allowed) if allowed is not None else branches

    def base_queryset(self):
        qs = Purchase.objects.filter(business=self.business).select_related("branch", "member")
        allowed = self.request.principal.branch_ids
        return qs.filter(branch_id__in=allowed) if allowed is not None else qs

    def _amount(self, name: str) -> int | None:
        text = to_ascii_digits(self.params.get(name, "")).replace(",", "").replace("٬", "").strip()
        if not text:
            return None
        if not text.isdigit():
            self.errors[name] = _("Not a number: %(value)s") % {"value": self.params[name]}
            return None
        return int(text)

    def apply(self, qs):
        p = self.params
        if p.get("branch", "").isdigit():
            qs = qs.filter(branch_id=int(p["branch"]))
        qs = self.day_range(qs, "occurred_at")
        if (low := self._amount("min")) is not None:
            qs = qs.filter(total__gte=low)
        if (high := self._amount("max")) is not None:
            qs = qs.filter(total__lte=high)
        if p.get("status") in Purchase.Status.values:
            qs = qs.filter(status=p["status"])
        if q := to_ascii_digits(p.get("q", "")).strip():
            qs = qs.filter(receipt=q) | qs.filter(member__code=q.upper()) | qs.filter(member__mobile__endswith=q.lstrip("0"))
        if p.get("member", "").isdigit():
            qs = qs.filter(member_id=int(p["member"]))
        return qs


@panel_view(Scope.READ)
def purchase_list(request):
    return PurchaseTable(request).respond({"search_hint": _("Receipt, member code or mobile")})


def _purchase(request, purchase_id: int) -> Purchase:
    """As the API: 404 for another business's purchase, 403 for another branch's (for a cashier)."""
    purchase = (Purchase.objects.filter(business=request.business, pk=purchase_id)
                .select_related("branch", "member").first())
    if purchase is None:
        raise NotFound("purchase_not_found")
    request.principal.require_branch(purchase.branch_id)
    return purchase


class ReturnForm(forms.Form):
    amount = AmountField(label=gettext_lazy("Amount to return (empty: by items below)"), required=False)
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, required=False)


class _Rollback(Exception):
    def __init__(self, result: dict) -> None:
        self.result = result


def preview(call) -> dict:
    """The service itself run in a transaction that is rolled back: exactly what it would reverse, nothing
    written (its outbox events and idempotency record roll back with it)."""
    try:
        with transaction.atomic():
            raise _Rollback(call())
    except _Rollback as done:
        return done.result


def _return_call(request, purchase, form: ReturnForm, cancel: bool):
    b, actor = request.business, request.principal.actor
    reason = form.cleaned_data.get("reason") or ""
    if cancel:
        return lambda: services.cancel_purchase(b, purchase.pk, reason=reason, actor=actor)
    lines = [{"line_id": line.pk, "quantity": int(to_ascii_digits(request.POST.get(f"line-{line.pk}", "0")) or 0)}
             for line in purchase.lines.all()
             if to_ascii_digits(request.POST.get(f"line-{line.pk}", "0")).isdigit()
             and int(to_ascii_digits(request.POST.get(f"line-{line.pk}", "0")) or 0) > 0]
    amount = form.cleaned_data.get("amount")
    return lambda: services.return_purchase(b, purchase.pk, amount=amount if not lines else None,
                                            lines=lines or None, reason=reason, actor=actor)


@panel_view(Scope.READ)
def purchase_detail(request, purchase_id: int):
    purchase = _purchase(request, purchase_id)
    form = ReturnForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        cancel = request.POST.get("kind") == "cancel"
        call = _return_call(request, purchase, form, cancel)
        if request.POST.get("step") == "confirm":
            if run_service(form, call) is not None:
                messages.success(request, _("Purchase cancelled.") if cancel else _("Return recorded."))
                return redirect(purchase_url(purchase))
        else:
            result = run_service(form, lambda: preview(call))
    return render(request, "panel/purchases/detail.html", {
        "purchase": purchase, "lines": [(line, request.POST.get(f"line-{line.pk}", "")) for line in purchase.lines.order_by("position")],
        "effects": purchase.effects.order_by("id"),
        "entries": Entry.objects.filter(business=request.business, purchase=purchase).order_by("id"), "form": form, "preview": result,
        "kind": request.POST.get("kind", "return"), "can_write": request.principal.scope != Scope.READ,
    }, status=422 if form.errors else 200)

