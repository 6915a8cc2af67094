from django.db import transaction
from django.db.models import Max
from pydantic import ValidationError

from vafa.core.actor import SYSTEM, Actor
from vafa.core.errors import InvalidInput
from vafa.program.document import ProgramDocument, dump_document, parse_document, validation_problems
from vafa.program.models import ProgramVersion
from vafa.program.starter import starter_document
from vafa.tenancy.models import Business
from vafa.tenancy.services import touch


def validate_program(data: dict | ProgramDocument) -> ProgramDocument:
    """The document, or InvalidInput listing every problem."""
    if isinstance(data, ProgramDocument):
        return data
    if not isinstance(data, dict):
        raise InvalidInput("document", "must_be_object")
    try:
        return parse_document(data)
    except (ValidationError, ValueError) as exc:
        raise InvalidInput(errors=validation_problems(exc)) from exc


@transaction.atomic
def activate_program(business, data: dict | ProgramDocument, actor: Actor = SYSTEM) -> ProgramVersion:
    """Validate and activate a new version. Old purchases keep the version they were evaluated with."""
    document = validate_program(data)
    Business.objects.select_for_update().filter(pk=business.pk).first()  # one activation at a time
    latest = ProgramVersion.objects.filter(business=business).aggregate(n=Max("version"))["n"] or 0
    ProgramVersion.objects.filter(business=business, active=True).update(active=False)
    touch(business.pk)
    return ProgramVersion.objects.create(business=business, version=latest + 1, document=dump_document(document),
                                         active=True, **actor.fields())


def give_starter_program(sender, business, **kwargs) -> ProgramVersion:
    """A new business starts with the starter program in its language and currency (tenancy.signals)."""
    return activate_program(business, starter_document(business.language, business.currency))
