"""The back office's list of sync problems (/panel/sync-problems/): purchases registered offline at a till that
the server refused when they were sent. The manager filters them (state, branch, refusal) and settles each:
resolved or dismissed, with a note, or sent again once the cause is fixed. Anyone in the back office may read
them (a cashier: their branches, without the buttons to settle)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from vafa.access.models import Scope
from vafa.core.errors import Conflict
from vafa.core.messages import message
from vafa.panel.auth import may, panel_view
from vafa.tenancy.models import Branch
from vafa.till import selectors, services
from vafa.till.models import SyncProblem


def refusal_text(code: str, language: str) -> str:
    """A refusal's code as the filter names it: a form refusal ("total: must_not_be_negative", the offline
    purchase's field and what was wrong) by the field's label and the message, both in the reader's language."""
    fields = {"total": _("Amount"), "receipt": _("Receipt number"), "redeem_wallet": _("Wallet to use")}
    parts = [part.partition(": ") for part in code.split("; ")]
    if not all(sep for _field, sep, _rest in parts):
        return message(code, language)
    return ("؛ " if language == "fa" else "; ").join(f"{fields.get(field, field)}: {message(rest, language)}"
                                                     for field, _sep, rest in parts)


@panel_view(Scope.READ)
def problem_list(request):
    status = request.GET.get("status") or SyncProblem.Status.OPEN
    if status not in SyncProblem.Status.values:
        status = SyncProblem.Status.OPEN
    problems = selectors.sync_problems(request.business, request.principal.branch_ids).filter(status=status)
    branches = Branch.objects.filter(business=request.business).order_by("name")
    if request.principal.branch_ids is not None:
        branches = branches.filter(pk__in=request.principal.branch_ids)
    branch = request.GET.get("branch", "")
    if branch:
        problems = problems.filter(branch__code=branch)
    code = request.GET.get("code", "")
    codes = sorted(set(selectors.sync_problems(request.business, request.principal.branch_ids)
                       .values_list("code", flat=True)))
    if code:
        problems = problems.filter(code=code)
    problems = list(problems[:200])
    for problem in problems:  # worded here: a template filter takes one argument, this needs two
        problem.sent_again_text = problem.sent_again_in(request.LANGUAGE_CODE, request.business.calendar)
    return render(request, "till/panel_problems.html", {
        "problems": problems, "status": status, "statuses": SyncProblem.Status.choices,
        "branches": branches, "branch": branch, "codes": [(c, refusal_text(c, request.LANGUAGE_CODE)) for c in codes],
        "code": code, "b": request.business,
        "can_settle": may(request, Scope.ADMIN)})  # the settling views' own check: no button that answers 403


@require_POST
@panel_view(Scope.ADMIN)
def problem_settle(request, problem_id: int, action: str):
    try:
        services.settle_sync_problem(request.business, problem_id, action=action, note=request.POST.get("note", ""),
                                     actor=request.principal.actor, branch_ids=request.principal.branch_ids)
    except Conflict as exc:
        messages.error(request, message(exc.detail, request.LANGUAGE_CODE))
    else:
        messages.success(request, _("Marked as resolved.") if action == "resolve" else _("Dismissed."))
    return _back(request)


@require_POST
@panel_view(Scope.ADMIN)
def problem_send_again(request, problem_id: int):
    """Send the refused purchase again (the cause fixed): resolved when it goes through, open with the new refusal
    beside the first when it is refused again."""
    try:
        problem = services.send_again(request.business, problem_id, actor=request.principal.actor,
                                      branch_ids=request.principal.branch_ids)
    except Conflict as exc:
        messages.error(request, message(exc.detail, request.LANGUAGE_CODE))
    else:
        (messages.success if problem.status == SyncProblem.Status.RESOLVED else messages.error)(
            request, problem.sent_again_in(request.LANGUAGE_CODE, request.business.calendar))
    return _back(request)


def _back(request):
    """To the list as the manager was looking at it (its filters), never anywhere else."""
    back = str(request.POST.get("back", ""))
    return redirect(back if back.startswith("/panel/sync-problems/") else "sync_problems:list")


app_name = "sync_problems"
urlpatterns = [
    path("", problem_list, name="list"),
    path("<int:problem_id>/send-again", problem_send_again, name="send_again"),  # before <slug:action> takes it
    path("<int:problem_id>/<slug:action>", problem_settle, name="settle"),
]
