from ninja import Body, Router

from vafa.access.models import Scope
from vafa.api.common import business, write
from vafa.program.document import dump_document
from vafa.program.schemas import ProgramOut, SimulateIn
from vafa.program.selectors import active_program
from vafa.program.services import activate_program
from vafa.purchases.api import post_purchase
from vafa.purchases.schemas import PurchaseOut

router = Router(tags=["program"])

EXAMPLE = {"rules": [{"id": "base", "kind": "earn", "per": 100000, "award": 10}]}


@router.get("/program", response=ProgramOut, summary="The active program document and its version")
def get_program(request):
    request.auth.require(Scope.READ)
    version, document = active_program(business(request))
    return {"version": version.version, "document": dump_document(document)}


@router.put("/program", response=ProgramOut, summary="Validate and activate a new version (owner)",
            description="Answers 422 listing every problem; purchases already made keep the version they used.")
def put_program(request, document: dict = Body(..., examples=[EXAMPLE])):
    request.auth.require(Scope.ADMIN, area="program")
    version, _ = write(request, "program.activate", {"document": document},
                       lambda: activate_program(business(request), document, actor=request.auth.actor), status=200,
                       object_type="program", object_id=lambda activated: activated.version)
    return {"version": version.version, "document": version.document}


@router.post("/program/simulate", response=PurchaseOut, summary="What a purchase would earn; nothing written")
def simulate(request, payload: SimulateIn):
    request.auth.require(Scope.READ)
    return post_purchase(request, payload, dry_run=True)
