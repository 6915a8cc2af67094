import re
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import Conflict, InvalidInput
from vafa.core.money import CURRENCIES
from vafa.tenancy import cache
from vafa.tenancy.models import Branch, Business
from vafa.tenancy.signals import business_created


@transaction.atomic
def create_business(*, name: str, slug: str, currency: str = "IRT", timezone: str = "Asia/Tehran",
                    language: str = "fa", calendar: str = "jalali") -> Business:
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
    business_created.send(sender=Business, business=business)
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
    cache.forget(business_id)  # this process's copy now carries an old token
    transaction.on_commit(lambda: cache.forget(business_id))


PROFILE_FIELDS = ("name", "currency", "timezone", "language", "calendar", "contact_phone", "contact_address",
                  "website", "instagram", "offline_spend_allowance")
INSTAGRAM_HANDLE = re.compile(r"^[A-Za-z0-9._]{1,30}$")


def _contact_errors(changes: dict) -> list[dict]:
    errors = []
    phone = to_ascii_digits(str(changes.get("contact_phone") or ""))
    if phone and not re.fullmatch(r"\+?[0-9 ()-]{4,32}", phone):
        errors.append({"field": "contact_phone", "message": "not_a_phone"})
    website = str(changes.get("website") or "")
    if website and not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", website):
        errors.append({"field": "website", "message": "not_an_http_url"})
    instagram = str(changes.get("instagram") or "").lstrip("@")
    if instagram and not INSTAGRAM_HANDLE.match(instagram):
        errors.append({"field": "instagram", "message": "bad_text"})
    allowance = changes.get("offline_spend_allowance", 0)
    if isinstance(allowance, bool) or not isinstance(allowance, int) or not 0 <= allowance <= 10**12:
        errors.append({"field": "offline_spend_allowance", "message": "must_not_be_negative"})
    return errors


@transaction.atomic
def update_business(business: Business, **changes) -> Business:
    """Change the business's profile; every field is checked as at creation and nothing is saved on an error."""
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
    errors.extend(_contact_errors(changes))
    errors.extend({"field": k, "message": "unknown_field"} for k in changes if k not in PROFILE_FIELDS)
    if errors:
        raise InvalidInput(errors=errors)
    for name, value in changes.items():
        if name == "contact_phone":
            value = to_ascii_digits(str(value)).strip()
        elif name == "instagram":
            value = str(value).strip().lstrip("@")
        setattr(business, name, str(value).strip() if name in ("name", "contact_address", "website") else value)
    business.save(update_fields=list(changes))
    return business
