from django.http import HttpResponse
from ninja import Router, Status

from vafa.access.models import Scope
from vafa.api.common import audited, business, idempotency_key
from vafa.ledger.schemas import AdjustmentIn, AdjustmentOut
from vafa.ledger.services import adjust
from vafa.members.selectors import member_by_id

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
    audited(request, 201, "entry", result["entry_id"])
    return Status(201, result)
