import datetime as dt

from ninja import Schema


class AuditOut(Schema):
    id: int
    action: str
    channel: str  # api, panel, till, portal, cli, woocommerce, system
    operation: str  # the use case: purchase, return, adjustment, gift_credit.grant …
    params: dict  # its input as data; secrets as ***
    object_type: str
    object_id: str
    status_code: int
    at: dt.datetime
    actor_kind: str
    actor_id: str
    actor_label: str
    actor_ip: str | None


class AuditPage(Schema):
    items: list[AuditOut]
    next_cursor: str | None
