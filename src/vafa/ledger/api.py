from django.http import HttpResponse
from ninja import Router, Status

from vafa.access.models import Scope
from vafa.api.common import business, idempotency_key, idempotent_write
from vafa.core.errors import NotFound
from vafa.ledger.giftcards import issue_gift_card, normalize
from vafa.ledger.models import GiftCard
from vafa.ledger.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    ConversionIn,
    ConversionOut,
    GiftCardIssueIn,
    GiftCardOut,
    GrantIn,
    GrantOut,
)
from vafa.members.balances import adjust, convert_points_to_wallet, grant_gift_credit
from vafa.members.selectors import member_by_id
from vafa.vouchers.services import attempt_key_of, check_guess_budget, count_unknown_code

router = Router(tags=["ledger"])


@router.post("/adjustments", response={201: AdjustmentOut}, summary="Manual credit or debit with a reason (admin)")
def create_adjustment(request, payload: AdjustmentIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)
    member = member_by_id(tenant, payload.member_id)
    result = adjust(tenant, member.pk, payload.currency, payload.amount, reason=payload.reason,
                    actor=request.auth.actor, idempotency_key=idempotency_key(request))
    if result.pop("replayed"):
        response["Idempotent-Replayed"] = "true"
    return Status(201, result)


@router.post("/members/{member_id}/conversions", response={201: ConversionOut},
             summary="Convert points to wallet credit at the loyalty table's rate",
             description="Whole steps only: 250 points at 100 → 10,000 convert 200 points into 20,000.")
def convert(request, member_id: int, payload: ConversionIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = member_by_id(tenant, member_id)
    result = convert_points_to_wallet(tenant, member.pk, payload.points, actor=request.auth.actor,
                                      idempotency_key=idempotency_key(request))
    if result.pop("replayed"):
        response["Idempotent-Replayed"] = "true"
    return Status(201, result)


@router.post("/gift-credit/grants", response={201: GrantOut}, summary="Grant gift credit to members or a tier (admin)",
             description="Each grant is its own lot with an expiry and optional category and branch restrictions.")
def grant(request, payload: GrantIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    result = grant_gift_credit(business(request), amount=payload.amount, reason=payload.reason,
                               member_ids=payload.member_ids or None, tier=payload.tier,
                               expires_at=payload.expires_at, categories=payload.categories,
                               branches=payload.branches, occasion=payload.occasion, actor=request.auth.actor,
                               idempotency_key=idempotency_key(request))
    if result.pop("replayed"):
        response["Idempotent-Replayed"] = "true"
    return Status(201, result)


def card_json(card) -> dict:
    return {"code": card.code, "balance": card.balance, "initial_amount": card.initial_amount,
            "status": card.status, "expires_at": card.expires_at.isoformat() if card.expires_at else None}


@router.post("/gift-cards", response={201: GiftCardOut}, summary="Issue (or sell) a gift card (admin)",
             description="The code is a bearer credential: whoever holds it can spend the balance, partially.")
def issue_card(request, payload: GiftCardIssueIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)
    buyer = member_by_id(tenant, payload.sold_to) if payload.sold_to else None

    def use_case() -> dict:
        card = issue_gift_card(tenant, amount=payload.amount, expires_at=payload.expires_at, sold_to=buyer)
        return card_json(card) | {"id": card.pk}  # the id for the audit trail (never the code); not answered

    return idempotent_write(request, response, "gift_card.issue", payload.model_dump(mode="json"), use_case,
                            object_type="gift_card")


@router.get("/gift-cards/{code}", response=GiftCardOut, summary="A gift card's balance (for the till)")
def get_card(request, code: str):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    attempt_key = attempt_key_of(request.auth.actor)
    check_guess_budget(tenant, attempt_key, None)  # a gift card's code is a bearer credential: no guessing
    card = GiftCard.objects.filter(business=tenant, code=normalize(code)).first()
    if card is None:
        count_unknown_code(tenant, attempt_key, None)
        raise NotFound("not_found")
    return card_json(card)
