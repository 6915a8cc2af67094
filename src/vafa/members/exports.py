"""The members export (GET /api/v1/members/export): one row per member with the balances of every currency,
read in batches so a large club streams without loading every member at once."""

from collections.abc import Iterator
from itertools import islice
from zoneinfo import ZoneInfo

from django.utils import timezone

from vafa.core.calendar import format_date
from vafa.ledger.selectors import CURRENCIES, members_balances
from vafa.members.models import Member

HEADER = ["code", "mobile", "first_name", "last_name", "tier", "joined", *CURRENCIES]
BATCH = 500


def member_rows(business) -> Iterator[list]:
    """Rows in member order; `joined` is the business's calendar date (ASCII digits, so spreadsheets sort it)."""
    zone = ZoneInfo(business.timezone)
    now = timezone.now()  # one moment for the whole export: a lot expiring while it streams is in or out everywhere
    members = Member.objects.filter(business=business).order_by("pk").iterator(chunk_size=BATCH)
    while batch := list(islice(members, BATCH)):
        held = members_balances(business.pk, [m.pk for m in batch], now)
        for m in batch:
            yield [m.code, m.mobile, m.first_name, m.last_name, m.tier,
                   format_date(m.joined_at.astimezone(zone).date(), business.calendar, "en"),
                   *(held[m.pk][currency]["available"] for currency in CURRENCIES)]
