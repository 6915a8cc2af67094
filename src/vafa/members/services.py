"""Members and cards: sign-up, profile changes, cards issued, lost and replaced."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import parse_date
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.luhn import check_digit, is_valid
from vafa.core.phone import normalize_mobile
from vafa.core.usecase import run_use_case
from vafa.members.locks import lock_member
from vafa.members.models import Card, Member
from vafa.members.referrals import record_commission, reward_referral
from vafa.outbox.services import emit
from vafa.program.selectors import active_program

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud at a counter without mistakes
PROFILE_FIELDS = ("first_name", "last_name", "email", "birth_date", "anniversary", "gender", "job", "education",
                  "interests", "join_source", "status")


CODE_LENGTH = 7
# Random bytes to code letters, uniformly: each of the first 248 byte values (8 × 31) maps to a letter, the
# last 8 are dropped (a byte of the same chance each for every letter).
_CODE_BYTES = bytes(CODE_ALPHABET[b % len(CODE_ALPHABET)].encode()[0] if b < 248 else 0 for b in range(256))
_CODE_DROPPED = bytes(range(248, 256))


def member_codes(count: int) -> list[str]:
    """`count` random member codes, in C rather than a Python call per letter (a bulk import makes millions)."""
    letters = b""
    while len(letters) < count * CODE_LENGTH:
        letters += secrets.token_bytes(count * CODE_LENGTH + 64).translate(_CODE_BYTES, _CODE_DROPPED)
    text = letters.decode()
    return [text[i:i + CODE_LENGTH] for i in range(0, count * CODE_LENGTH, CODE_LENGTH)]


def member_code() -> str:
    return member_codes(1)[0]


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


@dataclass(frozen=True)
class SignUp:
    """A sign-up's input, checked once: made by `SignUp.check`, which normalizes the mobile, cleans the profile
    and raises every problem at once (InvalidInput); the use case takes it as it is."""

    mobile: str  # normalized (+98…)
    profile: dict[str, Any] = field(default_factory=dict)  # PROFILE_FIELDS, cleaned
    referral_code: str = ""  # the referrer's member code, upper case; "" for none
    # False (the public join page): the sign-up rewards, the member's and the referrer's, wait for verify_mobile
    # or the first purchase
    mobile_verified: bool = True
    joined_at: dt.datetime | None = None  # now, when not given (the demo and tests back-date)

    @classmethod
    def check(cls, business, *, mobile: str, referral_code: str | None = None, mobile_verified: bool = True,
              joined_at: dt.datetime | None = None, **profile) -> SignUp:
        errors: list[dict] = []
        normalized = ""
        try:
            normalized = normalize_mobile(mobile, business.phone_region)
        except InvalidInput as exc:
            errors.extend(exc.errors)
        clean: dict = {}
        try:
            clean = _clean_profile(business, profile)
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if errors:
            raise InvalidInput(errors=errors)  # every problem at once, whatever mix of fields is wrong
        return cls(normalized, clean, str(referral_code or "").strip().upper(), bool(mobile_verified), joined_at)

    def as_request(self) -> dict:
        """The input as data: the idempotency fingerprint and the audit row's parameters."""
        return {"mobile": self.mobile, **{name: value.isoformat() if isinstance(value, dt.date) else value
                                          for name, value in self.profile.items()},
                "referral_code": self.referral_code, "mobile_verified": self.mobile_verified,
                "joined_at": self.joined_at.isoformat() if self.joined_at else None}


@dataclass(frozen=True)
class SignedUp:
    """A sign-up's result: the member, the member as answered (member_data at sign-up, kept with the
    idempotency key so that a replay answers the same), and whether this was a replay."""

    member: Member
    answer: dict
    replayed: bool = False


def member_data(member: Member) -> dict:
    """A member as the API answers it."""
    return {"id": member.pk, "code": member.code, "mobile": member.mobile, "first_name": member.first_name,
            "last_name": member.last_name, "email": member.email, "birth_date": _iso(member.birth_date),
            "anniversary": _iso(member.anniversary), "gender": member.gender, "job": member.job,
            "education": member.education, "interests": member.interests, "join_source": member.join_source,
            "status": member.status, "tier": member.tier or None, "joined_at": member.joined_at.isoformat()}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def sign_up_member(business, new: SignUp, *, actor: Actor = SYSTEM, idempotency_key: str | None = None) -> SignedUp:
    """The sign-up use case, whoever asks (the API, the panel, the till, the portal, the join page,
    WooCommerce, the demo): load (the referrer, a member with the mobile), decide (the first tier, the closed
    club's candidacy), write (the member, its event, the referral's rewards and commission), in run_use_case's
    transaction with its idempotency record and audit row."""
    made: list[Member] = []

    def use_case() -> dict:
        referrer = None
        if new.referral_code:
            referrer = Member.objects.filter(business=business, code=new.referral_code).first()
            if referrer is None:
                raise InvalidInput("referral_code", "unknown_referral_code")
            if referrer.mobile == new.mobile:
                raise InvalidInput("referral_code", "self_referral")
        if Member.objects.filter(business=business, mobile=new.mobile).exists():
            raise Conflict("mobile_taken", mobile=new.mobile)

        _, document = active_program(business)
        at = new.joined_at or timezone.now()
        tier = document.tiers.levels[0].code if document.tiers else ""
        closed = document.club.kind == "closed"
        try:
            with transaction.atomic():
                member = Member.objects.create(business=business, mobile=new.mobile, code=_new_code(business),
                                               joined_at=at, tier=tier, tier_since=at if tier else None,
                                               referred_by=referrer, admitted_at=None if closed else at,
                                               mobile_verified=new.mobile_verified,
                                               status=Member.Status.CANDIDATE if closed else Member.Status.ACTIVE,
                                               **new.profile)
        except IntegrityError as exc:  # a concurrent sign-up with the same mobile won
            raise Conflict("mobile_taken", mobile=new.mobile) from exc
        emit(business.pk, "member.created", {"member_id": member.pk, "code": member.code, "mobile": member.mobile})
        if new.mobile_verified:
            reward_referral(member, "signup", at)
        record_commission(member, actor, at)
        made.append(member)
        return member_data(member)

    answer, replayed = run_use_case(business, "member.sign_up", new.as_request(), use_case, actor=actor,
                                    key=idempotency_key, object_type="member")
    member = made[0] if made else Member.objects.get(business=business, pk=answer["id"])
    return SignedUp(member, answer, replayed)


def sign_up(business, *, mobile: str, actor: Actor = SYSTEM, **fields) -> Member:
    """The sign-up use case for a caller holding plain values (the screens, WooCommerce, the demo): `fields`
    as SignUp.check takes them. Answers the member."""
    return sign_up_member(business, SignUp.check(business, mobile=mobile, **fields), actor=actor).member


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

        reward_referral(member, "signup", at or timezone.now())
    return member


def update_member(business, member_id: int, *, actor: Actor = SYSTEM, **changes) -> Member:
    """A profile change, a use case whoever asks (the API, the panel, the portal, the admin, a job): through
    run_use_case, with its audit row in its transaction. Answers the member."""
    made: list[Member] = []

    def use_case() -> dict:
        member = lock_member(member_id, business.pk)
        profile = dict(changes)
        if "mobile" in profile:
            normalized = normalize_mobile(profile.pop("mobile"), business.phone_region)
            if Member.objects.filter(business=business, mobile=normalized).exclude(pk=member.pk).exists():
                raise Conflict("mobile_taken", mobile=normalized)
            member.mobile = normalized
        for name, value in _clean_profile(business, profile).items():
            setattr(member, name, value)
        member.save()
        emit(business.pk, "member.updated", {"member_id": member.pk, "fields": sorted(profile)})
        made.append(member)
        return member_data(member)

    request = {"member_id": member_id, **{name: value.isoformat() if isinstance(value, dt.date) else value
                                          for name, value in changes.items()}}
    run_use_case(business, "member.update", request, use_case, actor=actor, status=200, object_type="member")
    return made[0]


@transaction.atomic
def issue_card(business, member_id: int, *, kind: str = Card.Kind.QR, number: str | None = None,
               actor: Actor = SYSTEM, at: dt.datetime | None = None) -> Card:
    """A new card for the member. Pre-printed card numbers are accepted when their check digit is right."""
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
