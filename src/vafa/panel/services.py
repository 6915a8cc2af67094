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
