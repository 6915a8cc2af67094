from django.http import HttpResponse
from ninja import Router

from vafa.access.models import Scope
from vafa.api.common import business, idempotent_write
from vafa.tenancy.models import Branch
from vafa.tenancy.schemas import BranchIn, BranchOut, BusinessOut
from vafa.tenancy.services import create_branch

router = Router(tags=["business"])


def branch_json(branch: Branch) -> dict:
    return {"code": branch.code, "name": branch.name, "address": branch.address, "active": branch.active}


@router.get("/business", response=BusinessOut, summary="The business's own settings")
def get_business(request):
    request.auth.require(Scope.READ)
    tenant = business(request)
    return {"name": tenant.name, "slug": tenant.slug, "currency": tenant.currency, "timezone": tenant.timezone,
            "language": tenant.language, "calendar": tenant.calendar}


@router.get("/branches", response=list[BranchOut], summary="The business's branches")
def list_branches(request):
    request.auth.require(Scope.READ)
    return [branch_json(b) for b in Branch.objects.filter(business=business(request)).order_by("code")]


@router.post("/branches", response={201: BranchOut}, summary="Add a branch (admin)")
def add_branch(request, payload: BranchIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN)
    return idempotent_write(request, response, "branch.create", payload.model_dump(), lambda: branch_json(
        create_branch(business(request), code=payload.code, name=payload.name, address=payload.address)),
        object_type="branch", id_field="code")
