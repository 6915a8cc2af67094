import secrets

from django.db import transaction

from vafa.core.errors import Conflict, InvalidInput
from vafa.core.money import CURRENCIES
from vafa.tenancy.models import Branch, Business


@transaction.atomic
def create_business(*, name: str, slug: str, currency: str = "IRT", timezone: str = "Asia/Tehran",
                    language: str = "fa", calendar: str = "jalali") -> Business:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    errors = []
    if currency not in CURRENCIES:
        errors.append({"field": "currency", "message": "unknown_currency"})
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append({"field": "timezone", "message": "unknown_timezone"})
    if language not in ("fa", "en"):
        errors.append({"field": "language", "message": "unknown_language"})
    if calendar not in ("jalali", "gregorian"):
        errors.append({"field": "calendar", "message": "unknown_calendar"})
    if errors:
        raise InvalidInput(errors=errors)
    if Business.objects.filter(slug=slug).exists():
        raise Conflict("slug_taken", slug=slug)
    business = Business.objects.create(name=name, slug=slug, currency=currency, timezone=timezone,
                                       language=language, calendar=calendar)
    from vafa.program.services import activate_program
    from vafa.program.starter import starter_document

    activate_program(business, starter_document(language, currency))
    return business


@transaction.atomic
def create_branch(business: Business, *, code: str, name: str, address: str = "") -> Branch:
    if Branch.objects.filter(business=business, code=code).exists():
        raise Conflict("branch_code_taken", code=code)
    touch(business.pk)
    return Branch.objects.create(business=business, code=code, name=name, address=address)


def touch(business_id: int) -> None:
    """The business's program or branches changed: a new cache token, so every process's next purchase sees
    that its cached copy is out of date (program.cache). Random, so a restored backup or a reused id cannot
    bring an old token back with other rows behind it."""
    Business.objects.filter(pk=business_id).update(cache_token=secrets.randbits(62))


PROFILE_FIELDS = ("name", "currency", "timezone", "language", "calendar")


@transaction.atomic
def update_business(business: Business, **changes) -> Business:
    """Change the business's profile; every field is checked as at creation and nothing is saved on an error."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    errors = []
    if "name" in changes and not str(changes["name"]).strip():
        errors.append({"field": "name", "message": "required"})
    if "currency" in changes and changes["currency"] not in CURRENCIES:
        errors.append({"field": "currency", "message": "unknown_currency"})
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.append({"field": "timezone", "message": "unknown_timezone"})
    if "language" in changes and changes["language"] not in ("fa", "en"):
        errors.append({"field": "language", "message": "unknown_language"})
    if "calendar" in changes and changes["calendar"] not in ("jalali", "gregorian"):
        errors.append({"field": "calendar", "message": "unknown_calendar"})
    errors.extend({"field": k, "message": "unknown_field"} for k in changes if k not in PROFILE_FIELDS)
    if errors:
        raise InvalidInput(errors=errors)
    for name, value in changes.items():
        setattr(business, name, str(value).strip() if name == "name" else value)
    business.save(update_fields=list(changes))
    return business
