"""The panel's own writes: the setup wizard's program with its budget."""

from django.db import transaction

from vafa.core.actor import Actor
from vafa.panel.models import ProgramBudget
from vafa.program.services import activate_program


@transaction.atomic
def activate_with_budget(business, document: dict, monthly_budget: int | None, *, actor: Actor):
    """Activate the wizard's program (validated by the program service, as PUT /program is) and keep the
    monthly budget with it, in one transaction: a refused program leaves the budget as it was."""
    version = activate_program(business, document, actor=actor)
    if monthly_budget:
        ProgramBudget.objects.update_or_create(business=business, defaults={"monthly_amount": monthly_budget})
    return version


LOGO_MAX_BYTES = 200 * 1024
# Raster images only, recognised by their first bytes (an SVG could carry a script).
LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def set_logo(business, data: bytes):
    from vafa.core.errors import InvalidInput
    from vafa.panel.models import BusinessLogo

    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput("logo", "too_large")
    content_type = next((kind for magic, kind in LOGO_SIGNATURES.items() if data.startswith(magic)), None)
    if content_type is None or (content_type == "image/webp" and data[8:12] != b"WEBP"):
        raise InvalidInput("logo", "not_an_image")
    logo, _ = BusinessLogo.objects.update_or_create(business=business,
                                                    defaults={"content_type": content_type, "data": data})
    return logo


def refresh_figures(business, now=None):
    """Compute the dashboard's business-wide figures and keep them (one row per business). Idempotent: two
    refreshes at once both write a correct row, the later one stays."""
    from django.db import IntegrityError
    from django.utils import timezone

    from vafa.panel.models import DashboardFigures
    from vafa.panel.selectors import compute_figures

    now = now or timezone.now()
    figures = compute_figures(business)
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
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from vafa.panel.models import DashboardFigures
    from vafa.panel.selectors import FIGURES_EVERY
    from vafa.tenancy.models import Business

    now = now or timezone.now()
    fresh = DashboardFigures.objects.filter(business=OuterRef("pk"), computed_at__gt=now - FIGURES_EVERY)
    refreshed = 0
    for business in Business.objects.filter(~Exists(fresh)).order_by("dashboard_figures__computed_at", "pk"):
        refresh_figures(business, now)
        refreshed += 1
    return refreshed
