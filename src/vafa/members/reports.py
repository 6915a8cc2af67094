from django.db.models import Count, Sum
from ninja import Router

from vafa.access.models import Scope
from vafa.api.common import business
from vafa.members.models import Commission, Member
from vafa.members.schemas import CommissionRow, SourceCount

router = Router(tags=["reports"])


@router.get("/reports/sign-ups", response=list[SourceCount], summary="Members by where they signed up (F3)")
def sign_ups(request):
    request.auth.require(Scope.READ, whole_business=True)
    rows = (Member.objects.filter(business=business(request)).values("join_source").annotate(n=Count("id"))
            .order_by("-n", "join_source"))
    return [{"source": row["join_source"] or "", "members": row["n"]} for row in rows]


@router.get("/reports/commissions", response=list[CommissionRow], summary="Operator commissions (F35)")
def commissions(request):
    request.auth.require(Scope.READ, whole_business=True)
    rows = (Commission.objects.filter(business=business(request)).values("operator_id", "operator_label")
            .annotate(n=Count("id"), total=Sum("amount")).order_by("-total"))
    return [{"operator_id": r["operator_id"], "operator": r["operator_label"], "members": r["n"],
             "amount": r["total"]} for r in rows]
