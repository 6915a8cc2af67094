from functools import lru_cache

from vafa.core.errors import NotFound
from vafa.program.document import ProgramDocument, parse_document
from vafa.program.engine import Context
from vafa.program.models import ProgramVersion


@lru_cache(maxsize=512)
def _parsed(version_pk: int, created_at) -> ProgramDocument:
    # Versions never change once written, so a parsed document can be kept for the life of the process. The
    # creation time is part of the key because a primary key can come back (a rolled-back transaction on
    # SQLite, a restored backup) with another document behind it.
    return parse_document(ProgramVersion.objects.only("document").get(pk=version_pk).document)


def active_program(business) -> tuple[ProgramVersion, ProgramDocument]:
    version = (ProgramVersion.objects.filter(business=business, active=True)
               .only("pk", "version", "business_id", "created_at").first())
    if version is None:
        raise NotFound("no_active_program")
    return version, _parsed(version.pk, version.created_at)


def program_version(business, number: int) -> ProgramDocument:
    version = ProgramVersion.objects.filter(business=business, version=number).only("pk", "created_at").first()
    if version is None:
        raise NotFound("program_version_not_found", version=number)
    return _parsed(version.pk, version.created_at)


def context_of(business) -> Context:
    return Context(timezone=business.timezone, language=business.language, currency=business.currency,
                   calendar=business.calendar)
