"""The back office's review queue of purchases members registered in the portal (/panel/claims/): approve
(the purchase is recorded and earns as a till purchase) or reject with a reason the member reads. A cashier
sees and decides only their branches' claims."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.core.errors import NotFound, VafaError
from vafa.panel.auth import panel_view
from vafa.portal import services
from vafa.portal.models import PurchaseClaim
from vafa.portal.views import problem_text


def _claims(request):
    claims = PurchaseClaim.objects.filter(business=request.business).select_related("member", "branch")
    if request.principal.branch_ids is not None:
        claims = claims.filter(branch_id__in=request.principal.branch_ids)
    return claims


def _claim(request, claim_id: int) -> PurchaseClaim:
    claim = _claims(request).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound("not_found")
    return claim


@panel_view(Scope.READ)
def claim_list(request):
    status = request.GET.get("status") or PurchaseClaim.Status.PENDING
    if status not in PurchaseClaim.Status.values:
        status = PurchaseClaim.Status.PENDING
    return render(request, "portal/panel_claims.html", {
        "claims": _claims(request).filter(status=status).order_by("-created_at", "-id")[:200],
        "status": status, "statuses": PurchaseClaim.Status.choices, "b": request.business})


@require_POST
@panel_view(Scope.WRITE)
def claim_decide(request, claim_id: int, action: str):
    claim = _claim(request, claim_id)
    try:
        if action == "approve":
            services.approve_claim(request.business, claim.pk, actor=request.principal.actor)
            messages.success(request, _("Claim approved: the purchase is recorded and earned."))
        elif action == "reject":
            services.reject_claim(request.business, claim.pk, reason=request.POST.get("reason", ""),
                                  actor=request.principal.actor)
            messages.success(request, _("Claim rejected."))
        else:
            raise NotFound("not_found")
    except NotFound:
        raise
    except VafaError as exc:
        messages.error(request, problem_text(exc, request.LANGUAGE_CODE or "fa"))
    return redirect("claims:list")


@panel_view(Scope.READ)
def claim_photo(request, claim_id: int):
    claim = _claim(request, claim_id)
    if not claim.photo:
        raise NotFound("not_found")
    response = HttpResponse(bytes(claim.photo), content_type=claim.photo_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


app_name = "claims"
urlpatterns = [
    path("", claim_list, name="list"),
    path("<int:claim_id>/photo", claim_photo, name="photo"),
    path("<int:claim_id>/<slug:action>", claim_decide, name="decide"),
]
