from ninja import Query, Router

from vafa.access.models import AuditEvent, Scope
from vafa.access.schemas import AuditPage
from vafa.api.common import business, page

router = Router(tags=["audit"])


def audit_json(event: AuditEvent) -> dict:
    return {"id": event.pk, "action": event.action, "channel": event.channel, "operation": event.operation,
            "params": event.params, "object_type": event.object_type, "object_id": event.object_id,
            "status_code": event.status_code, "at": event.at, "actor_kind": event.actor_kind,
            "actor_id": event.actor_id, "actor_label": event.actor_label, "actor_ip": event.actor_ip}


@router.get("/audit", response=AuditPage, summary="Who changed what, when, from where (admin)",
            description="Every change, from every channel, is recorded with its operation and input (secrets as "
                        "`***`); filter by object (e.g. object_type=member).")
def list_audit(request, object_type: str | None = None, object_id: str | None = None, actor_id: str | None = None,
               cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.ADMIN)
    events = AuditEvent.objects.filter(business=business(request))
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    if actor_id:
        events = events.filter(actor_id=actor_id)
    return page(events, cursor, limit, audit_json)
