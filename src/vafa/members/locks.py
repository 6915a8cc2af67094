"""The member's row lock, apart from the services so that the modules the services call (referrals) take it too."""

from vafa.core.errors import NotFound
from vafa.members.models import Member


def lock_member(member_id: int, business_id: int, **annotations) -> Member:
    """Take the member's row lock: every write that touches a member's balances or counters holds it, so
    concurrent spends, returns and jobs for one member run one after another. `annotations`: read in the same
    statement (the purchase reads the business's cache token, program.cache)."""
    member = (Member.objects.select_for_update().filter(pk=member_id, business_id=business_id)
              .annotate(**annotations).first())
    if member is None:
        raise NotFound("member_not_found")
    return member


def lock_members(member_ids: list[int], business_id: int) -> list[Member]:
    """lock_member for several members of a business, in one statement, in id order (as every writer locks).
    Answers those that exist."""
    return list(Member.objects.select_for_update().filter(pk__in=member_ids, business_id=business_id).order_by("pk"))
