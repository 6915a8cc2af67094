"""A closed club's admission at a purchase or a visit: the candidate's standing is read from their purchases and
visits, so it is decided here, above clubs (which admits, and knows nothing of purchases)."""

from __future__ import annotations

import datetime as dt
import functools

from django.db import connection

from vafa.clubs.services import admit
from vafa.members.models import Member
from vafa.program.document import ProgramDocument
from vafa.program.engine import ClubStanding, Context, club_standing
from vafa.program.selectors import context_of
from vafa.purchases.models import Purchase, Visit


@functools.cache
def _progress_sql(basis: str, vendor: str) -> str:
    quote = connection.ops.quote_name
    if basis == "visits":
        return f"SELECT COUNT(*) FROM {quote(Visit._meta.db_table)} v WHERE v.business_id = %s AND v.member_id = %s"
    counted = ", ".join(["%s"] * len(Purchase.COUNTED))
    return (f"SELECT {'COALESCE(SUM(p.spend), 0)' if basis == 'spend' else 'COUNT(*)'} "
            f"FROM {quote(Purchase._meta.db_table)} p "
            f"WHERE p.business_id = %s AND p.member_id = %s AND p.status IN ({counted})")


def club_progress(member: Member, basis: str) -> int:
    """The candidate's standing on the entry basis (spend, purchases or visits): all their counted purchases and
    visits so far. One hand-written statement, its text made once: a purchase's and a dry run's read, where the
    ORM's compiling of an aggregate cost more than the database's answer."""
    params = [member.business_id, member.pk]
    if basis != "visits":
        params += [status.value for status in Purchase.COUNTED]
    with connection.cursor() as cursor:
        cursor.execute(_progress_sql(basis, connection.vendor), params)
        return int(cursor.fetchone()[0])  # PostgreSQL's SUM of a bigint is a numeric


def admission(member: Member, document: ProgramDocument, ctx: Context,
              unwritten: dict[str, int] | None = None) -> tuple[ClubStanding | None, str | None]:
    """A candidate's standing after the activity being decided, and how it admits them ("threshold", or
    "open_club" when the club is open again), None when it does not: decided on reads alone (a dry run's).
    `unwritten`: what the activity adds to each entry basis, when its row is not written yet."""
    if member.status != Member.Status.CANDIDATE:
        return None, None
    entry = document.club.entry if document.club.kind == "closed" else None
    standing = club_standing(document, club_progress(member, entry.basis) + (unwritten or {}).get(entry.basis, 0),
                             ctx) if entry else None
    if standing is None or standing.admitted:
        return standing, "threshold" if standing else "open_club"
    return standing, None


def admit_if_qualified(member: Member, document: ProgramDocument, at: dt.datetime,
                       unwritten: dict[str, int] | None = None) -> ClubStanding | None:
    """A candidate becomes a member once the entry threshold is reached (or the club is open again). Runs in the
    caller's transaction, with the member's row lock held; answers the standing for the caller's result.
    `unwritten`: what the activity being recorded adds to each entry basis, when its row is not written yet."""
    if member.status != Member.Status.CANDIDATE:
        return None
    standing, how = admission(member, document, context_of(member.business), unwritten)
    if how:
        admit(member, at, how)
    return standing
