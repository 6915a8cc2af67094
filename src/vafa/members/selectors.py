import datetime as dt
import functools
from typing import NamedTuple

from django.db import connection

from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.idempotency import fingerprint, namespace_of
from vafa.core.models import IdempotencyRecord
from vafa.core.phone import normalize_mobile
from vafa.core.sql import read_all
from vafa.ledger.selectors import balance_sheet_query, read_balance_sheet
from vafa.members.models import Card, Member
from vafa.tenancy.models import Business


def member_by_id(business, member_id: int) -> Member:
    # get() by the ids: half the CPU of filter(business=…).first(), which orders and resolves the instance
    try:
        return Member.objects.get(business_id=business.pk, pk=member_id)
    except Member.DoesNotExist:
        raise NotFound("member_not_found") from None


@functools.cache
def _brief_text(vendor: str) -> str:  # one text per database backend: the quoting is its own
    member, business = (connection.ops.quote_name(model._meta.db_table) for model in (Member, Business))
    return (f"SELECT 'm', tier, status, (SELECT cache_token FROM {business} WHERE id = %s), plan_expires_at, NULL, "
            f"NULL, plan FROM {member} WHERE business_id = %s AND id = %s")


def _brief_part(business_id: int, member_id: int) -> tuple[str, list]:
    """The member's row as a request's hot path reads it, with the business's cache token, as a part of eight
    columns that fits ledger.selectors.balance_sheet_query's (and its types, for PostgreSQL's UNION):
    'm', tier, status, token, plan_expires_at, NULL, NULL, plan. Its text made once per database backend."""
    return _brief_text(connection.vendor), [business_id, business_id, member_id]


class Brief(NamedTuple):
    """The member's row as the hot path reads it (_brief_part): a tuple, and a Member only for a caller that needs
    one (the balance read reads the tier alone; a Member costs it more than the rest of the row, issue 11)."""

    business_id: int
    id: int
    tier: str
    status: str
    plan: str
    plan_expires_at: object  # as the database answers it (SQLite: text)

    def member(self) -> Member:
        """The member (id, status, tier and plan read; the other fields deferred: read from the database if
        anything touches them)."""
        expires = self.plan_expires_at
        if isinstance(expires, str):  # SQLite answers text
            expires = connection.ops.convert_datetimefield_value(expires, None, connection)
        return Member.from_db(connection.alias, ["id", "business_id", "status", "tier", "plan", "plan_expires_at"],
                              [self.id, self.business_id, self.status, self.tier, self.plan, expires])


def _brief(business_id: int, member_id: int, row) -> tuple[Brief, int]:
    _, tier, status, token, plan_expires_at, _, _, plan = row
    return Brief(business_id, member_id, tier, status, plan, plan_expires_at), int(token)


def member_brief(business_id: int, member_id: int) -> tuple[Member, int]:
    """The member (id, status, tier and plan read; the rest deferred) and the business's cache token
    (tenancy.cache), in one hand-written statement: a request's hot path reads no more (issue 11)."""
    sql, params = _brief_part(business_id, member_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound("member_not_found")
    brief, token = _brief(business_id, member_id, row)
    return brief.member(), token


# made once per text (the tier texts are made once per program version and day, purchases.counters.
# tier_metric_query; the others once per backend), not per request (issue 11)
@functools.lru_cache(maxsize=512)
def _balance_text(sheet_sql: str, member_sql: str, tier_sql: str | None) -> str:
    sql = f"{sheet_sql} UNION ALL {member_sql}"
    if tier_sql is None:
        return sql
    # a CTE with named columns: both databases sum its second column, whatever the parts call theirs
    return (f"WITH tier (part, value, a, b, c, d, e) AS ({tier_sql}) {sql} UNION ALL SELECT 't', NULL, NULL, "
            "CAST(COALESCE(SUM(value), 0) AS BIGINT), NULL, NULL, NULL, NULL FROM tier")


def balance_read(business_id: int, member_id: int, at: dt.datetime, expiring_days: int,
                 tier: tuple[str, list] | None = None) -> tuple[Brief, int, dict, int | None]:
    """The balance read's one statement (issue 11): member_brief's row, ledger.selectors.balance_sheet's and, with
    `tier` (purchases.counters.tier_metric_query), the tier metric, in one UNION ALL. Answers the member's row
    (Brief), the business's cache token, the balance sheet and the tier metric (None: no `tier` given)."""
    sheet_sql, sheet_params = balance_sheet_query(business_id, member_id, at, expiring_days)
    member_sql, member_params = _brief_part(business_id, member_id)
    params = [*sheet_params, *member_params] if tier is None else [*tier[1], *sheet_params, *member_params]
    sql = _balance_text(sheet_sql, member_sql, None if tier is None else tier[0])
    [rows] = read_all([(sql, params)])  # on the driver's cursor (core.sql): Django's wrapper cost more than the read
    found = next((row for row in rows if row[0] == "m"), None)
    if found is None:
        raise NotFound("member_not_found")
    brief, token = _brief(business_id, member_id, found)
    metric = next((int(row[3]) for row in rows if row[0] == "t"), None)
    return brief, token, read_balance_sheet([row for row in rows if row[0] not in ("m", "t")], member_id, at), metric


def find_member(business, *, phone: str | None = None, card: str | None = None, code: str | None = None) -> Member:
    """By mobile (any spelling), by an active card's number, or by member code."""
    query = Member.objects.filter(business=business)
    if phone:
        try:
            member = query.filter(mobile=normalize_mobile(phone, business.phone_region)).first()
        except InvalidInput:
            member = None
    elif card:
        hit = (Card.objects.filter(business=business, number=to_ascii_digits(card).strip(), status=Card.Status.ACTIVE)
               .select_related("member").first())
        member = hit.member if hit else None
    elif code:
        member = query.filter(code=to_ascii_digits(code).strip().upper()).first()
    else:
        raise InvalidInput("member", "give_phone_card_or_code")
    if member is None:
        raise NotFound("member_not_found")
    return member


MOBILE_DIGITS = 12  # +98 912 345 6789 without the plus
_LAST_CHAR = "\U0010ffff"  # sorts after every character: [prefix, prefix + it) holds every name starting so


def search_members(business, q: str, limit: int = 50):
    text = to_ascii_digits(q).strip()
    query = Member.objects.filter(business=business)
    if text.lstrip("+").isdigit():
        try:  # a whole mobile number: the (business, mobile) unique index answers at once
            return query.filter(mobile=normalize_mobile(text, business.phone_region)).order_by("id")[:limit]
        except InvalidInput:
            pass
        digits = text.lstrip("+").lstrip("0")  # part of a number: a scan of the business's members
        if len(digits) > MOBILE_DIGITS:  # longer than any mobile (a card number): no scan for it
            return query.none()
        return query.filter(mobile__contains=digits).order_by("id")[:limit]
    # A name by its beginning, as typed or (Latin) lower-case or capitalised: one index range each on
    # (business, first_name) and (business, last_name, …), so a million members are searched without a scan.
    # More than `limit` people of that name: `limit` of them, not necessarily the oldest.
    ids: set[int] = set()
    for form in {text, text.lower(), text.capitalize()}:
        for field in ("first_name", "last_name"):
            ids.update(query.filter(**{f"{field}__gte": form, f"{field}__lt": form + _LAST_CHAR})
                       .values_list("pk", flat=True)[:limit])
    ids.update(query.filter(code=text.upper()).values_list("pk", flat=True))
    # by id alone: `pk IN (…) OR code = …` made SQLite walk every member of the business
    return query.filter(pk__in=ids).order_by("id")[:limit]


# The scope this route kept its idempotency keys under, with the payload as the request, before sign-up became
# the use case member.sign_up (its own scope and fingerprint). A client retrying a sign-up made before then sends
# the same request: it gets the stored answer, not a 409 (docs/decisions.md).
FORMER_SIGN_UP_SCOPE = "api:member.create"


def signed_up_before(tenant, key: str | None, payload: dict) -> dict | None:
    """The stored answer of this very request when the key holds it under the former scope, else None."""
    record = IdempotencyRecord.objects.filter(business=tenant, namespace=namespace_of(key), key=key,
                                              operation=FORMER_SIGN_UP_SCOPE).first() if key else None
    if record is None or record.fingerprint != fingerprint(FORMER_SIGN_UP_SCOPE, payload):
        return None
    return record.response


def sign_up_load(business_id: int, mobile: str, code: str) -> tuple[int, bool, bool]:
    """A sign-up's load in one hand-written statement: the business's cache token (to confirm the cached
    program, program.cache), whether the mobile is a member's already, and whether the new member code is."""
    member, business = (connection.ops.quote_name(model._meta.db_table) for model in (Member, Business))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_token, EXISTS (SELECT 1 FROM {member} WHERE business_id = %s AND mobile = %s), "
                       f"EXISTS (SELECT 1 FROM {member} WHERE business_id = %s AND code = %s) FROM {business} "
                       f"WHERE id = %s", [business_id, mobile, business_id, code, business_id])
        token, taken, code_taken = cursor.fetchone()
    return int(token), bool(taken), bool(code_taken)
