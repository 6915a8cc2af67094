"""Gift cards: issue, pay with, give back. Each change is a movement in the caller's transaction; the balance is
taken with a conditional UPDATE, so concurrent purchases never spend a card below zero."""

from __future__ import annotations

import datetime as dt
import functools
import secrets

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from vafa.core.reasons import Reason
from vafa.core.rows import columns
from vafa.core.validation import amount_problem
from vafa.ledger.models import GiftCard, GiftCardMovement
from vafa.outbox.services import emit

ISSUED = Reason("gift_card.issued")
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalize(code: str) -> str:
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


@transaction.atomic
def issue_gift_card(business, *, amount: int, expires_at: dt.datetime | None = None, sold_to=None,
                    reason: Reason | str = ISSUED) -> GiftCard:
    problem = amount_problem(amount, allow_zero=False)
    if problem:
        raise InvalidInput("amount", problem)
    now = timezone.now()
    card = GiftCard.objects.create(business=business, code=normalize(_code()), initial_amount=amount,
                                   balance=amount, expires_at=expires_at, sold_to=sold_to, created_at=now)
    GiftCardMovement.objects.create(business=business, card=card, amount=amount, reason=reason, created_at=now)
    emit(business.pk, "giftcard.issued", {"card_id": card.pk, "amount": amount})
    return card


@functools.cache
def _card_sql(vendor: str) -> str:
    return (f"SELECT {columns(GiftCard, 'g').sql} FROM {connection.ops.quote_name(GiftCard._meta.db_table)} g "
            "WHERE g.business_id = %s AND g.code = %s")


def usable_card(business, code: str, at: dt.datetime) -> GiftCard:
    """The business's card of this code, usable at `at`: read by a hand-written statement (a purchase and its
    dry run read it; the ORM's compiling cost more than the read)."""
    with connection.cursor() as cursor:
        cursor.execute(_card_sql(connection.vendor), [business.pk, normalize(code)])
        row = cursor.fetchone()
    card = columns(GiftCard, "g").instance(row) if row is not None else None
    if card is None:
        raise InvalidInput("redeem.gift_card.code", "unknown_gift_card")
    if card.status != GiftCard.Status.ACTIVE or (card.expires_at and card.expires_at <= at):
        raise Conflict("gift_card_not_usable")
    return card


def pay_with_card(card: GiftCard, amount: int, *, purchase, reason: Reason | str, at: dt.datetime) -> GiftCardMovement:
    taken = GiftCard.objects.filter(pk=card.pk, balance__gte=amount).update(balance=F("balance") - amount)
    if not taken:
        card.refresh_from_db()
        raise InsufficientBalance("insufficient_balance", currency="gift_card", needed=amount, available=card.balance)
    emit(card.business_id, "giftcard.spent", {"card_id": card.pk, "amount": amount, "purchase_id": purchase.pk})
    return GiftCardMovement.objects.create(business_id=card.business_id, card=card, amount=-amount,
                                           purchase=purchase, reason=reason, created_at=at)


def give_back_to_card(purchase, amount: int, *, reason: Reason | str, at: dt.datetime) -> None:
    """A return gives back to the card that paid (the card is found from the purchase's movement)."""
    paid = GiftCardMovement.objects.filter(business_id=purchase.business_id, purchase=purchase, amount__lt=0).first()
    if paid is None:
        raise NotFound("gift_card_not_found")
    GiftCard.objects.filter(pk=paid.card_id).update(balance=F("balance") + amount)
    GiftCardMovement.objects.create(business_id=purchase.business_id, card_id=paid.card_id, amount=amount,
                                    purchase=purchase, reason=reason, created_at=at)
