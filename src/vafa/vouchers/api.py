import hashlib
import io

from django.http import HttpResponse
from ninja import File, Form, Query, Router
from ninja.files import UploadedFile
from pydantic import Field

from vafa.access.models import Scope
from vafa.api import api
from vafa.api.common import business, idempotency_key, idempotent_write, page
from vafa.api.problems import language_of
from vafa.core.errors import InvalidInput, NotFound
from vafa.core.schemas import StrictSchema, shaped
from vafa.members import selectors as members
from vafa.program import cache as program_cache
from vafa.vouchers import services
from vafa.vouchers.models import VoucherDefinition
from vafa.vouchers.pricing import Basket, BasketLine
from vafa.vouchers.schemas import (
    CodesOut,
    GenerateIn,
    ValidateIn,
    ValidateOut,
    VoucherIn,
    VoucherOut,
    VoucherPage,
)

router = Router(tags=["vouchers"])
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # about 300,000 codes in a CSV; larger batches are split by the business

DEFINITION_FIELDS = ("name", "kind", "percent", "max_discount", "amount", "free_sku", "free_quantity", "buy_n",
                     "get_m", "order_wide", "categories", "skus", "branches", "tiers", "min_amount", "min_quantity",
                     "starts_on", "ends_on", "max_uses_total", "max_uses_per_member", "active")


def voucher_json(definition: VoucherDefinition, codes: list[str] | None = None) -> dict:
    body = {name: getattr(definition, name) for name in DEFINITION_FIELDS}
    body["percent"] = format(definition.percent.normalize(), "f") if definition.percent is not None else None
    body |= {"id": definition.pk, "used_count": definition.used_count, "codes_count": definition.codes.count(),
             "created_at": definition.created_at, "codes": codes}
    for name in ("starts_on", "ends_on"):
        body[name] = body[name].isoformat() if body[name] else None
    body["created_at"] = body["created_at"].isoformat()
    return body


def _definition(request, voucher_id: int) -> VoucherDefinition:
    found = VoucherDefinition.objects.filter(business=business(request), pk=voucher_id).first()
    if found is None:
        raise NotFound("voucher_not_found")
    return found


@router.post("/vouchers", response={201: VoucherOut}, summary="Define a voucher (admin), with a shared code or "
             "generated unique codes")
def create_voucher(request, payload: VoucherIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    tenant = business(request)

    def use_case() -> dict:
        definition = services.create_definition(tenant, **{name: getattr(payload, name) for name in DEFINITION_FIELDS})
        codes = None
        try:
            if payload.code is not None:
                codes = [services.create_code(definition, payload.code, payload.code_max_uses).code]
            if payload.generate is not None:
                g = payload.generate
                codes = (codes or []) + services.generate_codes(definition, g.count, g.length, g.prefix, g.max_uses)
        except Exception:
            definition.delete()  # the codes are written in batches of their own: all or nothing by hand
            raise
        return voucher_json(definition, codes)

    return idempotent_write(request, response, "voucher.create", payload.model_dump(mode="json"), use_case,
                            object_type="voucher", in_batches=payload.generate is not None)


class ListQuery(StrictSchema):
    cursor: str | None = Field(None, max_length=40)
    limit: int = Field(50, ge=1, le=200)


@router.get("/vouchers", response=VoucherPage, summary="The business's vouchers, newest first")
def list_vouchers(request, query: Query[ListQuery]):
    request.auth.require(Scope.READ)
    return page(VoucherDefinition.objects.filter(business=business(request)), query.cursor, query.limit,
                voucher_json)


@router.get("/vouchers/{int:voucher_id}", response=VoucherOut, summary="One voucher")
def get_voucher(request, voucher_id: int):
    request.auth.require(Scope.READ)
    return voucher_json(_definition(request, voucher_id))


@router.post("/vouchers/{int:voucher_id}/codes", response={201: CodesOut}, summary="Generate unique codes (admin)")
def add_codes(request, voucher_id: int, payload: GenerateIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    definition = _definition(request, voucher_id)
    return idempotent_write(
        request, response, f"voucher.codes:{voucher_id}", payload.model_dump(), lambda: {
            "voucher_id": definition.pk,
            "codes": services.generate_codes(definition, payload.count, payload.length, payload.prefix,
                                             payload.max_uses)},
        object_type="voucher", id_field="voucher_id", in_batches=True)


@router.post("/vouchers/{int:voucher_id}/codes/import", response={201: CodesOut},
             summary="Import unique codes from a CSV or Excel file (admin)",
             description="Multipart: `file` (.csv in UTF-8 or .xlsx; one code per row in the first column, an "
                         "optional header `code`) and `max_uses` (uses per code, default 1). All or nothing: a "
                         "bad, repeated or taken code is a 422 naming its row.")
def import_codes(request, voucher_id: int, response: HttpResponse, file: UploadedFile = File(...),
                 max_uses: int = Form(1, ge=1, le=10**9)):
    request.auth.require(Scope.ADMIN)
    definition = _definition(request, voucher_id)
    if file.size is not None and file.size > MAX_IMPORT_BYTES:
        raise InvalidInput("file", "too_large")
    data = file.read()
    fingerprint = {"sha256": hashlib.sha256(data).hexdigest(), "name": file.name, "max_uses": max_uses}
    return idempotent_write(
        request, response, f"voucher.import:{voucher_id}", fingerprint, lambda: {
            "voucher_id": definition.pk,
            "codes": services.import_codes(definition, io.BytesIO(data), filename=file.name or "", max_uses=max_uses)},
        object_type="voucher", id_field="voucher_id", in_batches=True)


@router.post("/vouchers/validate", response={200: ValidateOut}, summary="Would a code apply to this basket? "
             "Optionally hold it for this checkout")
def validate_code(request, payload: ValidateIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    member = None
    if payload.member_id is not None:
        # the member and the business's cache token in one statement: the token confirms the cached business
        member, token = members.member_brief(request.auth.business_id, payload.member_id)
        tenant = business(request, token)
    else:
        tenant = business(request)
    if payload.branch is not None:
        branch = program_cache.branch_of(tenant, payload.branch)
        if branch is None:
            raise InvalidInput("branch", "unknown_branch")
        request.auth.require_branch(branch.pk)
    basket = Basket(tuple(BasketLine(item.sku, item.category, item.quantity, item.quantity * item.unit_price)
                          for item in payload.items), payload.shipping)
    language = language_of(request)

    def use_case() -> dict:
        result = services.validate(tenant, payload.code, member, basket, payload.branch, language=language,
                                   attempt_key=services.attempt_key_of(request.auth.actor))
        reservation = None
        if result.valid and payload.reserve:
            reservation = services.reserve(tenant, payload.code, member)
        applied = result.applied
        return {"valid": result.valid, "code": result.code, "discount": result.discount, "reason": result.reason,
                "message": result.message,
                "allocation": list(applied.allocation) if applied and applied.applied else [0] * len(basket.lines),
                "shipping_discount": applied.shipping if applied and applied.applied else 0,
                "reservation_token": reservation.token if reservation else None,
                "reservation_expires_at": reservation.expires_at.isoformat() if reservation else None}

    if not payload.reserve and idempotency_key(request) is None:
        # A validation that holds nothing writes nothing (an unknown code's guess count apart): no transaction,
        # no stored answer, no audit row. Its answer (no reservation: every value already of ValidateOut's type)
        # as ValidateOut validates and dumps it, rendered by the API's renderer: the same bytes (core.schemas.shaped)
        return api.create_response(request, shaped(ValidateOut, use_case()), temporal_response=response)
    return idempotent_write(request, response, "voucher.validate", payload.model_dump() | {"language": language},
                            use_case, status=200, object_type="voucher", id_field="code")
