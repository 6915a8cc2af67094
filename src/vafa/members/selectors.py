from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.phone import normalize_mobile
from vafa.members.models import Card, Member


def member_by_id(business, member_id: int) -> Member:
    # get() by the ids: half the CPU of filter(business=…).first(), which orders and resolves the instance
    try:
        return Member.objects.get(business_id=business.pk, pk=member_id)
    except Member.DoesNotExist:
        raise NotFound("member_not_found") from None


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
