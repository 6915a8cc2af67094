"""Members and cards: sign-up, profile changes, cards issued, lost and replaced."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import parse_date
from vafa.core.digits import to_ascii_digits
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.luhn import check_digit, is_valid
from vafa.core.phone import mobile_or_problem
from vafa.core.sql import insert_now
from vafa.core.usecase import run_use_case
from vafa.members.locks import lock_member
from vafa.members.models import Card, Member
from vafa.members.referrals import record_commission, reward_referral
from vafa.members.selectors import sign_up_load
from vafa.outbox.services import batched, emit
from vafa.program import cache as program_cache

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


def _profile_into(business, profile: dict, errors: list[dict]) -> dict:
    """The profile cleaned, or {} with its problems added to `errors` (a check answering every problem)."""
    try:
        return _clean_profile(business, profile)
    except InvalidInput as exc:
        errors.extend(exc.errors)
        return {}


def _as_data(values: dict) -> dict:
    """Cleaned fields as JSON data (dates as ISO text): an idempotency fingerprint, an audit row's parameters."""
    return {name: value.isoformat() if isinstance(value, dt.date) else value for name, value in values.items()}


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
        normalized = mobile_or_problem(mobile, business.phone_region, errors)
        clean = _profile_into(business, profile, errors)
        if errors:
            raise InvalidInput(errors=errors)  # every problem at once, whatever mix of fields is wrong
        return cls(normalized, clean, str(referral_code or "").strip().upper(), bool(mobile_verified), joined_at)

    def as_request(self) -> dict:
        """The input as data: the idempotency fingerprint and the audit row's parameters."""
        return {"mobile": self.mobile, **_as_data(self.profile),
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
        with batched():  # the outbox events in one insert, at the end
            return sign_up_once()

    def sign_up_once() -> dict:
        referrer = None
        if new.referral_code:
            referrer = Member.objects.filter(business=business, code=new.referral_code).first()
            if referrer is None:
                raise InvalidInput("referral_code", "unknown_referral_code")
            if referrer.mobile == new.mobile:
                raise InvalidInput("referral_code", "self_referral")
        # load: one statement (the cache token confirms the cached program, as the purchase's lock does)
        code = member_code()
        token, taken, code_taken = sign_up_load(business.pk, new.mobile, code)
        if taken:
            raise Conflict("mobile_taken", mobile=new.mobile)
        document = program_cache.setup_of(business, token).document
        at = new.joined_at or timezone.now()
        tier = document.tiers.levels[0].code if document.tiers else ""
        closed = document.club.kind == "closed"
        try:
            with transaction.atomic():
                member = Member(business=business, mobile=new.mobile,
                                code=_new_code(business) if code_taken else code,
                                joined_at=at, tier=tier, tier_since=at if tier else None,
                                referred_by=referrer, admitted_at=None if closed else at,
                                mobile_verified=new.mobile_verified,
                                status=Member.Status.CANDIDATE if closed else Member.Status.ACTIVE,
                                **new.profile)
                insert_now(member)
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




# --- the mobile proven -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MobileVerification:
    """A mobile proven by a one-time code, as messaging.otp.verify_code answers it (normalized)."""

    mobile: str
    at: dt.datetime | None = None  # now, when not given


@dataclass(frozen=True)
class MobileVerified:
    """The member whose mobile was proven (None: the mobile is no member's). `replayed`: nothing changed (the
    mobile was proven before, or is no member's, or the key's answer), so no audit row was written."""

    member: Member | None
    replayed: bool = False


def verify_mobile(business, proof: MobileVerification, *, actor: Actor = SYSTEM,
                  idempotency_key: str | None = None) -> MobileVerified:
    """The member with this mobile proved it: load (the member, locked), decide (not yet verified?), write (the
    mark and the sign-up rewards held until now), in run_use_case's transaction with its audit row. A mobile
    already proven or no member's changes nothing and answers as a replay (no row): the API, the join page and
    the portal call this for every proven mobile."""
    found: list[Member] = []

    def use_case() -> dict:
        member_id = Member.objects.filter(business=business, mobile=proof.mobile).values_list("pk", flat=True).first()
        if member_id is None:
            return {"member_id": None, "replayed": True}
        member = lock_member(member_id, business.pk)
        found.append(member)
        if member.mobile_verified:
            return {"member_id": member.pk, "replayed": True}
        member.mobile_verified = True
        member.save(update_fields=["mobile_verified", "updated_at"])
        reward_referral(member, "signup", proof.at or timezone.now())
        return {"member_id": member.pk}

    request = {"mobile": proof.mobile, "at": proof.at.isoformat() if proof.at else None}
    answer, replayed = run_use_case(business, "member.verify_mobile", request, use_case, actor=actor,
                                    key=idempotency_key, object_type="member", object_id="member_id", status=200)
    member = found[0] if found else (Member.objects.filter(business=business, pk=answer["member_id"]).first()
                                     if answer["member_id"] else None)
    return MobileVerified(member, replayed or bool(answer.get("replayed")))


# --- the profile changed ---------------------------------------------------------------------------------

KEPT_FIELDS = ("mobile", "status", "gender", "interests")  # changed, never cleared: None is refused


@dataclass(frozen=True)
class MemberUpdate:
    """A profile change's input, checked once: made by `MemberUpdate.check`, which normalizes the mobile and
    cleans the fields to change, raising every problem at once (InvalidInput); the use case takes it as it is."""

    member_id: int
    mobile: str | None = None  # normalized; None: unchanged
    profile: dict[str, Any] = field(default_factory=dict)  # the PROFILE_FIELDS to change, cleaned

    @classmethod
    def check(cls, business, member_id: int, **changes) -> MemberUpdate:
        errors = [{"field": name, "message": "required"} for name in KEPT_FIELDS
                  if name in changes and changes[name] is None]
        changes = {name: value for name, value in changes.items() if value is not None or name not in KEPT_FIELDS}
        mobile = None
        if "mobile" in changes:
            mobile = mobile_or_problem(changes.pop("mobile"), business.phone_region, errors)
        profile = _profile_into(business, changes, errors)
        if errors:
            raise InvalidInput(errors=errors)
        return cls(member_id, mobile, profile)

    def as_request(self) -> dict:
        """The input as data: the idempotency fingerprint and the audit row's parameters."""
        return {"member_id": self.member_id, **({"mobile": self.mobile} if self.mobile else {}),
                **_as_data(self.profile)}


@dataclass(frozen=True)
class MemberUpdated:
    """A profile change's result: the member, the member as answered (member_data), and whether a replay."""

    member: Member
    answer: dict
    replayed: bool = False


def update_member(business, change: MemberUpdate, *, actor: Actor = SYSTEM,
                  idempotency_key: str | None = None) -> MemberUpdated:
    """The profile-change use case, whoever asks (the API, the panel, the portal, the admin): load (the member,
    locked; whether the new mobile is another's), write (the fields, the `member.updated` event), in
    run_use_case's transaction with its idempotency record and audit row."""
    made: list[Member] = []

    def use_case() -> dict:
        member = lock_member(change.member_id, business.pk)
        if change.mobile is not None:
            if Member.objects.filter(business=business, mobile=change.mobile).exclude(pk=member.pk).exists():
                raise Conflict("mobile_taken", mobile=change.mobile)
            member.mobile = change.mobile
        for name, value in change.profile.items():
            setattr(member, name, value)
        member.save()
        emit(business.pk, "member.updated", {"member_id": member.pk, "fields": sorted(change.profile)})
        made.append(member)
        return member_data(member)

    answer, replayed = run_use_case(business, "member.update", change.as_request(), use_case, actor=actor,
                                    key=idempotency_key, status=200, object_type="member")
    member = made[0] if made else Member.objects.get(business=business, pk=answer["id"])
    return MemberUpdated(member, answer, replayed)


# --- cards -----------------------------------------------------------------------------------------------


def card_data(card: Card) -> dict:
    """A card as the API answers it."""
    return {"number": card.number, "kind": card.kind, "status": card.status, "issued_at": card.issued_at.isoformat()}


def _kind_problems(kind: str | None, errors: list[dict]) -> None:
    if kind is not None and kind not in Card.Kind.values:
        errors.append({"field": "kind", "message": "unknown_choice"})


@dataclass(frozen=True)
class CardIssue:
    """A new card's input, checked once by `CardIssue.check` (the kind, a pre-printed number's check digit)."""

    member_id: int
    kind: str = Card.Kind.QR
    number: str | None = None  # pre-printed (Luhn-valid); None: a new number is drawn
    at: dt.datetime | None = None  # issued now, when not given (the demo back-dates)

    @classmethod
    def check(cls, member_id: int, *, kind: str | None = None, number: str | None = None,
              at: dt.datetime | None = None) -> CardIssue:
        errors: list[dict] = []
        _kind_problems(kind, errors)
        if number is not None and not is_valid(number):
            errors.append({"field": "number", "message": "bad_check_digit"})
        if errors:
            raise InvalidInput(errors=errors)
        return cls(member_id, kind or Card.Kind.QR, number, at)

    def as_request(self) -> dict:
        return {"member_id": self.member_id, "kind": self.kind, "number": self.number,
                "at": self.at.isoformat() if self.at else None}


@dataclass(frozen=True)
class CardReplacement:
    """A replacement card's input (کارت المثنی), checked once by `CardReplacement.check`."""

    member_id: int
    number: str  # the member's card being replaced
    kind: str | None = None  # the new card's; None: the old card's

    @classmethod
    def check(cls, member_id: int, number: str, *, kind: str | None = None) -> CardReplacement:
        errors: list[dict] = []
        _kind_problems(kind, errors)
        if errors:
            raise InvalidInput(errors=errors)
        return cls(member_id, to_ascii_digits(str(number or "")).strip(), kind or None)

    def as_request(self) -> dict:
        return {"member_id": self.member_id, "replace": self.number, "kind": self.kind}


@dataclass(frozen=True)
class CardLoss:
    """A card reported lost: the member's card, blocked until replaced."""

    member_id: int
    number: str

    @classmethod
    def check(cls, member_id: int, number: str) -> CardLoss:
        return cls(member_id, to_ascii_digits(str(number or "")).strip())

    def as_request(self) -> dict:
        return {"member_id": self.member_id, "number": self.number}


@dataclass(frozen=True)
class CardChanged:
    """A card issued, replaced or blocked: the card (the new one for a replacement), the card as answered
    (card_data, kept with the idempotency key so that a replay answers the same), and whether a replay."""

    card: Card
    answer: dict
    replayed: bool = False


def _new_card(business, member: Member, kind: str, number: str | None, at: dt.datetime | None,
              actor: Actor) -> Card:
    number = number or card_number()
    if Card.objects.filter(business=business, number=number).exists():
        raise Conflict("card_number_taken")
    card = Card(business=business, member=member, number=number, kind=kind, issued_at=at or timezone.now(),
                **actor.fields())
    insert_now(card)
    return card


def _card_use_case(business, operation: str, new: CardIssue | CardReplacement | CardLoss, use_case: Callable[[], Card],
            actor: Actor, key: str | None) -> CardChanged:
    made: list[Card] = []

    def body() -> dict:
        made.append(use_case())
        return card_data(made[0])

    answer, replayed = run_use_case(business, operation, new.as_request(), body, actor=actor, key=key,
                                    object_type="card", object_id="number")
    card = made[0] if made else Card.objects.get(business=business, number=answer["number"])
    return CardChanged(card, answer, replayed)


def issue_card(business, new: CardIssue, *, actor: Actor = SYSTEM, idempotency_key: str | None = None) -> CardChanged:
    """The card-issue use case, whoever asks (the API, the panel, the demo): load (the member, locked; whether
    the number is taken), write (the card), in run_use_case's transaction with its audit row."""

    def use_case() -> Card:
        member = lock_member(new.member_id, business.pk)
        return _new_card(business, member, new.kind, new.number, new.at, actor)

    return _card_use_case(business, "card.issue", new, use_case, actor, idempotency_key)


def replace_card(business, change: CardReplacement, *, actor: Actor = SYSTEM,
                 idempotency_key: str | None = None) -> CardChanged:
    """The card-replacement use case (the API, the panel, the till): load (the member and their card,
    locked), decide (not replaced already), write (a new card; the old number blocked). Balances belong to
    the member, not the card, so every balance stays."""

    def use_case() -> Card:
        member = lock_member(change.member_id, business.pk)
        old = Card.objects.select_for_update().filter(business=business, member=member, number=change.number).first()
        if old is None:
            raise NotFound("card_not_found")
        if old.status == Card.Status.REPLACED:
            raise Conflict("card_already_replaced")
        new = _new_card(business, member, change.kind or old.kind, None, None, actor)
        old.status = Card.Status.REPLACED
        old.blocked_at = old.blocked_at or timezone.now()
        old.replaced_by = new
        old.save(update_fields=["status", "blocked_at", "replaced_by"])
        return new

    return _card_use_case(business, "card.replace", change, use_case, actor, idempotency_key)


def report_card_lost(business, loss: CardLoss, *, actor: Actor = SYSTEM,
                     idempotency_key: str | None = None) -> CardChanged:
    """The lost-card use case (the panel): load (the member's card, locked), decide (still active?), write (the
    card blocked; a purchase by its number is refused from now on)."""

    def use_case() -> Card:
        card = (Card.objects.select_for_update()
                .filter(business=business, member_id=loss.member_id, number=loss.number).first())
        if card is None:
            raise NotFound("card_not_found")
        if card.status != Card.Status.ACTIVE:
            raise Conflict("card_not_active")
        card.status = Card.Status.LOST
        card.blocked_at = timezone.now()
        card.save(update_fields=["status", "blocked_at"])
        return card

    return _card_use_case(business, "card.lost", loss, use_case, actor, idempotency_key)
