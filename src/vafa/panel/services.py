"""The panel's own writes: the setup wizard's program with its budget."""

import copy
import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from vafa.core.actor import Actor
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.images import image_type
from vafa.panel.models import ActiveWindow, BusinessLogo, DashboardFigures, ProgramBudget
from vafa.panel.selectors import FIGURES_EVERY, FIGURES_MAX_AGE, compute_figures, effect_to_keep
from vafa.program.selectors import active_program
from vafa.program.services import activate_program
from vafa.tenancy.models import Business


@transaction.atomic
def activate_with_budget(business, document: dict, monthly_budget: int | None, *, actor: Actor):
    """Activate the wizard's program (validated by the program service, as PUT /program is) and keep the
    monthly budget with it, in one transaction: a refused program leaves the budget as it was."""
    version = activate_program(business, document, actor=actor)
    if monthly_budget:
        ProgramBudget.objects.update_or_create(business=business, defaults={"monthly_amount": monthly_budget})
    return version


LOGO_MAX_BYTES = 200 * 1024


def set_logo(business, data: bytes):
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput("logo", "too_large")
    content_type = image_type(data)
    if content_type is None:
        raise InvalidInput("logo", "not_an_image")
    logo, _ = BusinessLogo.objects.update_or_create(business=business,
                                                    defaults={"content_type": content_type, "data": data})
    return logo


MAX_ACTIVE_DAYS = 3650


def set_active_days(business, days) -> int:
    """The business's active-member window, 1 to 3650 days."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidInput("active_days", "must_be_integer")
    if days < 1 or days > MAX_ACTIVE_DAYS:
        raise InvalidInput("active_days", "must_be_positive" if days < 1 else "too_large")
    ActiveWindow.objects.update_or_create(business=business, defaults={"days": days})
    # The kept dashboard figures counted active members by the old window: dated past FIGURES_MAX_AGE, so the
    # dashboard computes them afresh until the job keeps them again, all but the cohort table (the window does
    # not change it, and a page view never computes it).
    DashboardFigures.objects.filter(business=business).update(
        computed_at=timezone.now() - FIGURES_MAX_AGE - dt.timedelta(seconds=1))
    return days


@transaction.atomic
def save_plan(business, plan: dict, *, new: bool, actor: Actor):
    """The active program with this paid plan added (`new`) or replacing the plan of its code, activated as a new
    version through the program service (validated as PUT /api/v1/program is). A problem of the plan names its
    own field ("price"); other problems of the document keep their path."""
    Business.objects.select_for_update().filter(pk=business.pk).first()  # two edits never lose one another
    version, _ = active_program(business)
    document = copy.deepcopy(version.document)
    plans = document.setdefault("plans", [])
    index = next((i for i, held in enumerate(plans) if held.get("code") == plan.get("code")), None)
    if new and index is not None:
        raise InvalidInput("code", "code_taken")
    if not new and index is None:
        raise NotFound("not_found")
    if index is None:
        index = len(plans)
        plans.append(plan)
    else:
        plans[index] = plan
    try:
        return activate_program(business, document, actor=actor)
    except InvalidInput as exc:
        prefix = f"plans.{index}."
        raise InvalidInput(errors=[{"field": e["field"].removeprefix(prefix).split(".")[0]
                                    if e["field"].startswith(prefix) else e["field"], "message": e["message"]}
                                   for e in exc.errors]) from exc


def refresh_figures(business, now=None):
    """Compute the dashboard's business-wide figures and keep them (one row per business). Idempotent: two
    refreshes at once both write a correct row, the later one stays."""
    now = now or timezone.now()
    kept = DashboardFigures.objects.filter(business=business).values_list("figures", flat=True).first()
    figures = compute_figures(business, effect_to_keep(business, kept, now))
    try:
        with transaction.atomic():
            row, _ = DashboardFigures.objects.update_or_create(
                business=business, defaults={"computed_at": now, "figures": figures})
    except IntegrityError:  # another refresh created the row first: theirs is as fresh as ours
        row = DashboardFigures(business=business, computed_at=now, figures=figures)
    return row


def refresh_dashboards(now=None) -> int:
    """The `dashboard_figures` job: refresh every business whose figures are missing or older than
    FIGURES_EVERY, the oldest first. Answers how many were refreshed."""
    now = now or timezone.now()
    fresh = DashboardFigures.objects.filter(business=OuterRef("pk"), computed_at__gt=now - FIGURES_EVERY)
    refreshed = 0
    for business in Business.objects.filter(~Exists(fresh)).order_by("dashboard_figures__computed_at", "pk"):
        refresh_figures(business, now)
        refreshed += 1
    return refreshed
