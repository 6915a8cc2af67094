"""The store's point of sale reports a receipt that had no member at the till, so that a member who registers
it in the portal later is accepted at once (F10)."""

import datetime as dt

from ninja import Router, Status

from vafa.access.models import Scope
from vafa.api.common import business
from vafa.core.errors import Conflict, InvalidInput
from vafa.core.schemas import StrictSchema
from vafa.portal import services
from vafa.tenancy.models import Branch

router = Router(tags=["receipts"])


class ReceiptIn(StrictSchema):
    branch: str
    receipt: str
    total: int
    occurred_at: dt.datetime


class ReceiptOut(StrictSchema):
    id: int
    branch: str
    receipt: str
    total: int
    occurred_at: dt.datetime
    claimed: bool


@router.post("/receipts", response={201: ReceiptOut, 200: ReceiptOut},
             summary="Report a receipt that had no member, for a member to register in the portal later",
             description="Sending the same receipt again answers 200 with the first report; a different total "
                         "or moment for it is 409 `receipt_exists`.")
def report_receipt(request, payload: ReceiptIn):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    branch_id = Branch.objects.filter(business=tenant, code=payload.branch).values_list("id", flat=True).first()
    if branch_id is None:
        raise InvalidInput("branch", "unknown_branch")
    request.auth.require_branch(branch_id)
    row, created = services.report_receipt(tenant, branch_code=payload.branch, receipt=payload.receipt,
                                           total=payload.total, occurred_at=payload.occurred_at)
    if not created and (row.total, row.occurred_at) != (payload.total, payload.occurred_at):
        raise Conflict("receipt_exists")
    return Status(201 if created else 200, {"id": row.pk, "branch": payload.branch, "receipt": row.receipt, "total": row.total,
            "occurred_at": row.occurred_at, "claimed": row.purchase_id is not None})
