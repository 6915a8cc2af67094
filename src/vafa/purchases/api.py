from contextlib import contextmanager

from django.http import HttpResponse
from ninja import Query, Router, Status

from vafa.access.models import Scope
from vafa.api import api
from vafa.api.common import business, idempotency_key, page
from vafa.api.problems import language_of
from vafa.core.errors import InvalidInput, NotFound, VafaError
from vafa.core.schemas import shaped
from vafa.members import selectors as members
from vafa.purchases import activities, selectors, services
from vafa.purchases.models import Purchase
from vafa.purchases.schemas import (
    ActivityOut,
    CancelIn,
    EventIn,
    PaymentOut,
    PurchaseDetailOut,
    PurchaseIn,
    PurchaseOut,
    PurchasePage,
    ReturnIn,
    ReturnOut,
    RewardOut,
    RewardPage,
    RewardUseIn,
    VisitIn,
)
from vafa.tenancy.selectors import branch_code_of, branch_id_of

router = Router(tags=["purchases"])


def resolve_member(tenant, ref):
    if ref.member_id is not None:
        return members.member_by_id(tenant, ref.member_id)
    return members.find_member(tenant, phone=ref.phone, card=ref.card, code=ref.code)


def _branch_allowed(request, tenant, code: str | None) -> None:
    if code is None or request.auth.branch_ids is None:
        return  # a caller bound to no branch may act in every one: no branch to look up
    branch_id = branch_id_of(tenant, code)
    if branch_id is not None:
        request.auth.require_branch(branch_id)


def _purchase(request, purchase_id: int) -> Purchase:
    """A purchase of the caller's business (404 otherwise); a caller bound to branches gets 403 for another
    branch's purchase, for reads and writes alike."""
    purchase = selectors.purchase_by_id(business(request), purchase_id)
    if purchase is None:
        raise NotFound("purchase_not_found")
    request.auth.require_branch(purchase.branch_id)
    return purchase


@contextmanager
def api_field_names():
    """The services call basket lines `lines`; the API calls them `items`."""
    try:
        yield
    except InvalidInput as exc:
        for error in exc.errors:
            if error["field"] == "lines" or error["field"].startswith("lines."):
                error["field"] = "items" + error["field"][len("lines"):]
        raise


PAYMENT_FIELDS = tuple(PaymentOut.model_fields)


def purchase_json(purchase: Purchase) -> dict:
    items = [{"id": line.pk, "sku": line.sku, "name": line.name, "category": line.category,
              "quantity": line.quantity, "unit_price": line.unit_price, "amount": line.amount,
              "returned_quantity": line.returned_quantity} for line in purchase.lines.all()]
    return {name: getattr(purchase, name) for name in PAYMENT_FIELDS} | {
        "id": purchase.pk, "member_id": purchase.member_id, "branch": purchase.branch.code,
        "receipt": purchase.receipt, "occurred_at": purchase.occurred_at, "channel": purchase.channel,
        "returned_amount": purchase.returned_amount, "status": purchase.status,
        "program_version": purchase.program_version, "items": items, "lines": items,
        "effects": purchase.result.get("effects", [])}


def post_purchase(request, payload: PurchaseIn, *, dry_run: bool) -> dict:
    tenant = business(request)
    _branch_allowed(request, tenant, payload.branch)
    ref = payload.member
    # A member given by id is not read here: the purchase reads (and locks) the member anyway, and answers
    # member_not_found itself. Only its refusals for other reasons look the member up, so that an unknown
    # member is still answered first, as when the member was read before the purchase.
    member_id = ref.member_id if ref.member_id is not None else resolve_member(tenant, ref).pk
    try:
        with api_field_names():
            return dict(services.record(tenant, services.PurchaseInput(
                member_id=member_id, branch_code=payload.branch, receipt=payload.receipt, total=payload.total,
                occurred_at=payload.occurred_at, channel=payload.channel,
                lines=[item.model_dump() for item in payload.items], redeem_points=payload.redeem.points,
                redeem_wallet=payload.redeem.wallet, redeem_gift_credit=payload.redeem.gift_credit,
                codes=payload.codes, units=payload.units, other_amount=payload.other_amount,
                rewards=payload.rewards, on_bad_code=payload.on_bad_code, limit_backdating=True,
                gift_card=payload.redeem.gift_card.model_dump() if payload.redeem.gift_card else None),
                dry_run=dry_run, idempotency_key=None if dry_run else idempotency_key(request),
                actor=request.auth.actor))
    except VafaError as refused:
        if ref.member_id is not None and refused.detail != "member_not_found":
            members.member_by_id(tenant, member_id)
        raise


@router.post("/purchases", response={200: PurchaseOut, 201: PurchaseOut}, summary="Register a purchase",
             description="Finds the member by id, phone, card or code; redeems points/wallet; evaluates the program. "
                         "The same receipt at the same branch, or the same Idempotency-Key, is a replay: the first status and "
                         "body, with the header `Idempotent-Replayed: true`; "
                         "`dry_run: true` answers the effects and writes nothing.")
def create_purchase(request, payload: PurchaseIn, response: HttpResponse):
    request.auth.require(Scope.READ if payload.dry_run else Scope.WRITE)
    result = post_purchase(request, payload, dry_run=payload.dry_run)
    mark_replay(response, result)
    response.status_code = 200 if payload.dry_run else 201
    # the answer as PurchaseOut validates and dumps it, rendered by the API's renderer: the same bytes, without
    # validating the service's answer again
    return api.create_response(request, shaped(PurchaseOut, result), temporal_response=response)


def mark_replay(response: HttpResponse, result: dict) -> None:
    """A replay answers the first status and body; only this header tells it apart."""
    if result.pop("replayed", False):
        response["Idempotent-Replayed"] = "true"


@router.get("/purchases", response=PurchasePage, summary="Purchases, newest first")
def list_purchases(request, member_id: int | None = None, branch: str | None = None, receipt: str | None = None,
                   cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    found = selectors.purchases(business(request), member_id=member_id, branch=branch, receipt=receipt,
                                branch_ids=request.auth.branch_ids)
    return page(found, cursor, limit, purchase_json)


@router.get("/purchases/{purchase_id}", response=PurchaseDetailOut, summary="One purchase with its lines and effects")
def get_purchase(request, purchase_id: int):
    request.auth.require(Scope.READ)
    return purchase_json(_purchase(request, purchase_id))


@router.post("/purchases/{purchase_id}/returns", response={201: ReturnOut}, summary="Return items or an amount",
             description="Earned rewards are reversed and spent rewards given back in proportion; a full return "
                         "reverses everything; nothing is reversed twice.")
def create_return(request, purchase_id: int, payload: ReturnIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    purchase = _purchase(request, purchase_id)
    with api_field_names():
        result = services.return_purchase(
            business(request), purchase.pk, amount=payload.amount,
            lines=[item.model_dump(exclude_none=True) for item in payload.items] or None, reason=payload.reason,
            idempotency_key=idempotency_key(request), actor=request.auth.actor)
    mark_replay(response, result)
    return Status(201, result)


@router.post("/purchases/{purchase_id}/cancel", response={201: ReturnOut}, summary="Cancel a purchase completely")
def cancel(request, purchase_id: int, payload: CancelIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    purchase = _purchase(request, purchase_id)
    result = services.cancel_purchase(business(request), purchase.pk, reason=payload.reason,
                                      idempotency_key=idempotency_key(request), actor=request.auth.actor)
    mark_replay(response, result)
    return Status(201, result)


@router.post("/visits", response={201: ActivityOut}, summary="Check a member in (visit-based programs)")
def visit(request, payload: VisitIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    branch = _bound_branch(request, payload.branch)
    member = resolve_member(tenant, payload.member)
    result = activities.check_in(tenant, member_id=member.pk, branch_code=branch, occurred_at=payload.occurred_at,
                                 units=payload.units, note=payload.note, idempotency_key=idempotency_key(request),
                                 actor=request.auth.actor)
    mark_replay(response, result)
    return Status(201, result)


@router.post("/events", response={201: ActivityOut}, summary="Record a custom activity",
             description="survey_completed, social_share, newsletter_signup, app_install, profile_completed …; "
                         "earn rules with `on: event` reward them.")
def event(request, payload: EventIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = resolve_member(tenant, payload.member)
    result = activities.record_event(tenant, member_id=member.pk, name=payload.name, data=payload.data,
                                     occurred_at=payload.occurred_at, idempotency_key=idempotency_key(request),
                                     actor=request.auth.actor)
    mark_replay(response, result)
    return Status(201, result)


def _bound_branch(request, code: str | None) -> str | None:
    """The branch a write names; a caller bound to one branch names it by default."""
    if code is None and request.auth.branch_ids is not None and len(request.auth.branch_ids) == 1:
        code = branch_code_of(next(iter(request.auth.branch_ids)))
    if code is None and request.auth.branch_ids is not None:
        raise InvalidInput("branch", "required")
    _branch_allowed(request, business(request), code)
    return code


@router.get("/members/{member_id}/rewards", response=RewardPage, summary="The rewards a member holds",
            description="Stamp-card and sequence rewards: what each gives (a thing handed over, a free item, an "
                        "amount or percent off, free shipping), where and until when. `status`: available, used, "
                        "expired or revoked (default: all), newest first.")
def member_rewards(request, member_id: int, status: str | None = None, cursor: str | None = None,
                   limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    if status is not None and status not in selectors.REWARD_STATUSES:
        raise InvalidInput("status", "invalid")
    member = members.member_by_id(business(request), member_id)
    rewards = selectors.member_rewards(member, status)
    language = language_of(request)
    return page(rewards, cursor, limit, lambda reward: selectors.reward_json(reward, language=language))


@router.post("/members/{member_id}/rewards/{reward_id}/use", response={201: RewardOut},
             summary="Use a reward outside a sale",
             description="A thing handed over (a free coffee) or a free item; a discount (amount or percent off) is "
                         "used on `POST /purchases` with `rewards: [id]`. Used once, also under concurrency: a "
                         "second use is 409 `reward_not_usable`.")
def use_reward(request, member_id: int, reward_id: int, payload: RewardUseIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = members.member_by_id(tenant, member_id)
    branch = _bound_branch(request, payload.branch)
    result = services.use_reward(tenant, member.pk, reward_id, branch_code=branch,
                                 idempotency_key=idempotency_key(request), actor=request.auth.actor)
    mark_replay(response, result)
    return Status(201, result)
