"""Members and cards: sign-up, profile changes, cards issued, lost and replaced."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import parse_date
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.luhn import check_digit
from vafa.core.phone import normalize_mobile
from vafa.members.models import Card, Member
from vafa.outbox.services import emit

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud at a counter without mistakes
PROFILE_FIELDS = ("first_name", "last_name", "email", "birth_date", "anniversary", "gender", "job", "education",
                  "interests", "join_source", "status")


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


def member_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(7))


def card_number() -> str:
    payload = "6" + "".join(secrets.choice("0123456789") for _ in range(14))
    return payload + check_digit(payload)


def _clean_profile(business, data: dict) -> dict:
    errors = []
    clean: dict = {}
    for name, value in data.items():
        if name not in PROFILE_FIELDS:
            errors.append({"field": name, "message": "unknown_field"})
            continue
        try:
            if name in ("birth_date", "anniversary"):
                clean[name] = parse_date(value, name) if value not in (None, "") else None
                if clean[name] and clean[name] > timezone.localdate():
                    raise InvalidInput(name, "date_in_future")
            elif name == "email":
                if value:
                    validate_email(value)
                clean[name] = value or ""
            elif name == "gender":
                if value not in Member.Gender.values:
                    raise InvalidInput(name, "unknown_choice")
                clean[name] = value
            elif name == "status":
                if value not in Member.Status.values:
                    raise InvalidInput(name, "unknown_choice")
                if value == Member.Status.CANDIDATE:  # only a closed club's admission decides who is a candidate
                    raise InvalidInput(name, "set_by_admission_only")
                clean[name] = value
            elif name == "interests":
                if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
                    raise InvalidInput(name, "must_be_list_of_text")
                clean[name] = value
            else:
                text = "" if value is None else str(value).strip()
                max_length = Member._meta.get_field(name).max_length
                if max_length and len(text) > max_length:
                    raise InvalidInput(name, "too_long")
                clean[name] = text
        except InvalidInput as exc:
            errors.extend(exc.errors)
        except DjangoValidationError:
            errors.append({"field": name, "message": "not_an_email"})
    if errors:
        raise InvalidInput(errors=errors)
    return clean


def _new_code(business) -> str:
    while True:
        code = member_code()
        if not Member.objects.filter(business=business, code=code).exists():
            return code


@transaction.atomic
def sign_up(business, *, mobile: str, actor: Actor = SYSTEM, joined_at: dt.datetime | None = None,
            referral_code: str | None = None, mobile_verified: bool = True, **profile) -> Member:
    """A new member. `mobile_verified=False` (the public join page) holds the sign-up rewards, the member's and
    the referrer's, until `verify_mobile` or the first purchase."""
    errors: list[dict] = []
    try:
        normalized = normalize_mobile(mobile, business.phone_region)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        clean = _clean_profile(business, profile)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors=errors)  # every problem at once, whatever mix of fields is wrong
    referrer = None
    if referral_code:
        referrer = Member.objects.filter(business=business, code=str(referral_code).strip().upper()).first()
        if referrer is None:
            raise InvalidInput("referral_code", "unknown_referral_code")
        if referrer.mobile == normalized:
            raise InvalidInput("referral_code", "self_referral")
    if Member.objects.filter(business=business, mobile=normalized).exists():
        raise Conflict("mobile_taken", mobile=normalized)
    from vafa.program.selectors import active_program

    _, document = active_program(business)
    at = joined_at or timezone.now()
    tier = document.tiers.levels[0].code if document.tiers else ""
    try:
        with transaction.atomic():
            closed = document.club.kind == "closed"
            member = Member.objects.create(business=business, mobile=normalized, code=_new_code(business),
                                           joined_at=at, tier=tier, tier_since=at if tier else None,
                                           referred_by=referrer, admitted_at=None if closed else at,
                                           mobile_verified=mobile_verified,
                                           status=Member.Status.CANDIDATE if closed else Member.Status.ACTIVE,
                                           **clean)
    except IntegrityError as exc:  # a concurrent sign-up with the same mobile won
        raise Conflict("mobile_taken", mobile=normalized) from exc
    emit(business.pk, "member.created", {"member_id": member.pk, "code": member.code, "mobile": member.mobile})
    from vafa.members.referrals import record_commission, reward_referral

    if mobile_verified:
        reward_referral(member, "signup", at)
    record_commission(member, actor, at)
    return member


@transaction.atomic
def verify_mobile(business, mobile: str, at: dt.datetime | None = None) -> Member | None:
    """The member with this mobile proved it (a one-time code): mark it verified and pay the sign-up rewards
    held until now. Answers the member, or None when the mobile is no member's."""
    member = Member.objects.filter(business=business, mobile=mobile).first()
    if member is None:
        return None
    member = lock_member(member.pk, business.pk)
    if not member.mobile_verified:
        member.mobile_verified = True
        member.save(update_fields=["mobile_verified", "updated_at"])
        from vafa.members.referrals import reward_referral

        reward_referral(member, "signup", at or timezone.now())
    return member


@transaction.atomic
def update_member(business, member_id: int, *, actor: Actor = SYSTEM, **changes) -> Member:
    member = lock_member(member_id, business.pk)
    if "mobile" in changes:
        normalized = normalize_mobile(changes.pop("mobile"), business.phone_region)
        if Member.objects.filter(business=business, mobile=normalized).exclude(pk=member.pk).exists():
            raise Conflict("mobile_taken", mobile=normalized)
        member.mobile = normalized
    for name, value in _clean_profile(business, changes).items():
        setattr(member, name, value)
    member.save()
    emit(business.pk, "member.updated", {"member_id": member.pk, "fields": sorted(changes)})
    return member


@transaction.atomic
def issue_card(business, member_id: int, *, kind: str = Card.Kind.QR, number: str | None = None,
               actor: Actor = SYSTEM, at: dt.datetime | None = None) -> Card:
    """A new card for the member. Pre-printed card numbers are accepted when their check digit is right."""
    from vafa.core.luhn import is_valid

    member = lock_member(member_id, business.pk)
    if kind not in Card.Kind.values:
        raise InvalidInput("kind", "unknown_choice")
    if number is not None and not is_valid(number):
        raise InvalidInput("number", "bad_check_digit")
    number = number or card_number()
    if Card.objects.filter(business=business, number=number).exists():
        raise Conflict("card_number_taken")
    return Card.objects.create(business=business, member=member, number=number, kind=kind,
                               issued_at=at or timezone.now(), **actor.fields())


@transaction.atomic
def report_card_lost(business, card_number_: str, *, actor: Actor = SYSTEM) -> Card:
    card = Card.objects.select_for_update().filter(business=business, number=card_number_).first()
    if card is None:
        raise NotFound("card_not_found")
    if card.status != Card.Status.ACTIVE:
        raise Conflict("card_not_active")
    card.status = Card.Status.LOST
    card.blocked_at = timezone.now()
    card.save(update_fields=["status", "blocked_at"])
    return card


@transaction.atomic
def replace_card(business, card_number_: str, *, kind: str | None = None, actor: Actor = SYSTEM) -> Card:
    """A replacement card (کارت المثنی): the old number is blocked; balances belong to the member, not the card,
    so every balance stays."""
    old = Card.objects.select_for_update().filter(business=business, number=card_number_).first()
    if old is None:
        raise NotFound("card_not_found")
    if old.status == Card.Status.REPLACED:
        raise Conflict("card_already_replaced")
    new = issue_card(business, old.member_id, kind=kind or old.kind, actor=actor)
    old.status = Card.Status.REPLACED
    old.blocked_at = old.blocked_at or timezone.now()
    old.replaced_by = new
    old.save(update_fields=["status", "blocked_at", "replaced_by"])
    return new
