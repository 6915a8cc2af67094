from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router

from vafa.access.models import Scope
from vafa.api.common import business, idempotent_write, page, write
from vafa.catalogue import selectors, services
from vafa.catalogue.schemas import (
    CodesIn,
    CodesOut,
    GiftIn,
    GiftList,
    GiftOut,
    GiftPatch,
    GroupIn,
    GroupOut,
    NoteIn,
    RequestIn,
    RequestOut,
    RequestPage,
    ShipIn,
)
from vafa.core.errors import InvalidInput

router = Router(tags=["catalogue"])


def _plain(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "replayed"}


@router.get("/gift-groups", response=list[GroupOut], summary="Gift groups, in catalogue order")
def list_groups(request):
    request.auth.require(Scope.READ)
    return [selectors.group_json(group) for group in selectors.groups(business(request))]


@router.post("/gift-groups", response={201: GroupOut}, summary="Add a gift group (admin)")
def add_group(request, payload: GroupIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)
    return idempotent_write(request, response, "gift_group.create", payload.model_dump(), lambda: selectors.group_json(
        services.create_group(tenant, title=payload.title, position=payload.position)), object_type="gift_group")


@router.get("/gifts", response=GiftList, summary="The gift catalogue",
            description="Gifts on display today (the business's timezone, inclusive dates), by group. "
                        "`all=true` (admin) also lists inactive gifts and those outside their display window.")
def list_gifts(request, group_id: int | None = None, all: bool = False):  # noqa: A002 - the query parameter's name
    request.auth.require(Scope.ADMIN if all else Scope.READ)
    tenant = business(request)
    gifts = selectors.gifts(tenant, visible_on=None if all else selectors.business_today(tenant), group_id=group_id)
    return {"items": [selectors.gift_json(gift) for gift in gifts[:1000]]}


@router.get("/gifts/{gift_id}", response=GiftOut, summary="One gift")
def get_gift(request, gift_id: int):
    request.auth.require(Scope.READ)
    return selectors.gift_json(selectors.gift_by_id(business(request), gift_id))


@router.post("/gifts", response={201: GiftOut}, summary="Add a gift (admin)",
             description="Price in coins, points or wallet credit; `stock` null is unlimited. A gift with "
                         "`partner_name` hands out partner codes imported with POST /gifts/{id}/codes.")
def add_gift(request, payload: GiftIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)
    data = payload.model_dump()
    return idempotent_write(request, response, "gift.create", data,
                            lambda: selectors.gift_json(services.create_gift(tenant, **data)), object_type="gift")


@router.patch("/gifts/{gift_id}", response=GiftOut, summary="Change a gift (admin)")
def update_gift(request, gift_id: int, payload: GiftPatch):
    request.auth.require(Scope.ADMIN)
    changes = payload.model_dump(exclude_unset=True)
    required = ("title", "price_currency", "price", "active")
    if any(changes.get(name, "") is None for name in required):
        raise InvalidInput(errors=[{"field": name, "message": "required"} for name in required
                                   if name in changes and changes[name] is None])
    gift, _ = write(request, "gift.update", {"gift_id": gift_id, **changes},
                    lambda: services.update_gift(business(request), gift_id, **changes), status=200,
                    object_type="gift", object_id=lambda changed: changed.pk)
    return selectors.gift_json(gift)


@router.post("/gifts/{gift_id}/codes", response={201: CodesOut}, summary="Import a partner gift's codes (admin)",
             description="`codes` (a list) or `csv` (text whose first column is the code; a header `code` is "
                         "skipped). Codes the gift already has are skipped and counted.")
def import_codes(request, gift_id: int, payload: CodesIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)
    selectors.gift_by_id(tenant, gift_id)
    return idempotent_write(request, response, f"gift.codes:{gift_id}", payload.model_dump(), lambda: _plain(
        services.import_partner_codes(tenant, gift_id, payload.codes, csv_file=payload.csv,
                                      actor=request.auth.actor)),
        object_type="gift", id_field="gift_id")


@router.post("/gifts/{gift_id}/requests", response={201: RequestOut}, summary="A member asks for a gift",
             description="Takes the price from the member's balance (409 insufficient_balance) and reserves one "
                         "unit (409 out_of_stock), or hands out a partner code.")
def request_gift(request, gift_id: int, payload: RequestIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    return idempotent_write(request, response, f"gift.request:{gift_id}", payload.model_dump(), lambda: _plain(
        services.request_gift(tenant, payload.member_id, gift_id, actor=request.auth.actor)),
        object_type="gift_request")


@router.get("/gift-requests", response=RequestPage, summary="Gift requests, newest first")
def list_requests(request, status: Literal["requested", "fulfilled", "rejected", "shipped"] | None = None,
                  member_id: int | None = None, gift_id: int | None = None, cursor: str | None = None,
                  limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    found = selectors.requests(business(request), status=status, member_id=member_id, gift_id=gift_id)
    return page(found, cursor, limit, selectors.request_json)


@router.get("/gift-requests/{request_id}", response=RequestOut, summary="One gift request")
def get_request(request, request_id: int):
    request.auth.require(Scope.READ)
    return selectors.request_json(selectors.request_by_id(business(request), request_id))


def _step(request, response, request_id: int, step: str, payload, call) -> object:
    tenant = business(request)
    return idempotent_write(request, response, f"gift_request.{step}:{request_id}", payload.model_dump(),
                            lambda: _plain(call(tenant, request_id, actor=request.auth.actor, **payload.model_dump())),
                            status=200, object_type="gift_request")


@router.post("/gift-requests/{request_id}/fulfil", response={200: RequestOut}, summary="Fulfil a request")
def fulfil(request, request_id: int, payload: NoteIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    return _step(request, response, request_id, "fulfil", payload, services.fulfil_request)


@router.post("/gift-requests/{request_id}/reject", response={200: RequestOut},
             summary="Reject a request and refund it", description="The price goes back to the member; the stock "
                                                                    "or the partner code goes back to the gift.")
def reject(request, request_id: int, payload: NoteIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    return _step(request, response, request_id, "reject", payload, services.reject_request)


@router.post("/gift-requests/{request_id}/ship", response={200: RequestOut},
             summary="Mark a fulfilled request shipped (closes it)")
def ship(request, request_id: int, payload: ShipIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    return _step(request, response, request_id, "ship", payload, services.ship_request)
