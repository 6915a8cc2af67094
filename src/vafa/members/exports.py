"""The members export (GET /api/v1/members/export): one row per member with the balances of every currency,
read in batches so a large club streams without loading every member at once."""

from collections.abc import Iterator
from itertools import islice
from zoneinfo import ZoneInfo

from vafa.core.calendar import format_date
from vafa.ledger.models import Account
from vafa.ledger.selectors import CURRENCIES
from vafa.members.models import Member

HEADER = ["code", "mobile", "first_name", "last_name", "tier", "joined", *CURRENCIES]
BATCH = 500


def member_rows(business) -> Iterator[list]:
    """Rows in member order; `joined` is the business's calendar date (ASCII digits, so spreadsheets sort it)."""
    zone = ZoneInfo(business.timezone)
    members = Member.objects.filter(business=business).order_by("pk").iterator(chunk_size=BATCH)
    while batch := list(islice(members, BATCH)):
        held: dict[tuple[int, str], int] = {}
        for member_id, currency, balance in Account.objects.filter(
                business=business, member_id__in=[m.pk for m in batch], kind=Account.Kind.AVAILABLE,
        ).values_list("member_id", "currency", "balance"):
            held[member_id, currency] = balance
        for m in batch:
            yield [m.code, m.mobile, m.first_name, m.last_name, m.tier,
                   format_date(m.joined_at.astimezone(zone).date(), business.calendar, "en"),
                   *(held.get((m.pk, currency), 0) for currency in CURRENCIES)]
