from vafa.core.digits import to_ascii_digits
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.phone import normalize_mobile
from vafa.members.models import Card, Member


def member_by_id(business, member_id: int) -> Member:
    member = Member.objects.filter(business=business, pk=member_id).first()
    if member is None:
        raise NotFound("member_not_found")
    return member


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


def search_members(business, q: str, limit: int = 50):
    text = to_ascii_digits(q).strip()
    query = Member.objects.filter(business=business)
    if text.lstrip("+").isdigit():
        try:  # a whole mobile number: the (business, mobile) unique index answers at once
            return query.filter(mobile=normalize_mobile(text, business.phone_region)).order_by("id")[:limit]
        except InvalidInput:
            pass
        digits = text.lstrip("+").lstrip("0")  # part of a number: a scan of the business's members
        return query.filter(mobile__contains=digits).order_by("id")[:limit]
    return (query.filter(first_name__icontains=text) | query.filter(last_name__icontains=text)
            | query.filter(code=text.upper())).order_by("id")[:limit]
