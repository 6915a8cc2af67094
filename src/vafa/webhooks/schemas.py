import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field

from vafa.core.schemas import StrictSchema as Strict
from vafa.webhooks.models import EVENT_TYPES

EVENTS_HELP = "Event types to receive, or [\"*\"] for all: " + ", ".join(EVENT_TYPES) + "."




class WebhookIn(Strict):
    url: str = Field(max_length=500, description="http or https URL that receives the POSTs",
                     examples=["https://shop.example/hooks/vafa"])
    events: list[str] = Field(max_length=100, description=EVENTS_HELP,
                              examples=[["member.created", "purchase.created", "points.earned"]])
    description: str = Field("", max_length=200, examples=["CRM sync"])


class WebhookPatch(Strict):
    url: str | None = Field(None, max_length=500, examples=["https://shop.example/hooks/vafa-v2"])
    events: list[str] | None = Field(None, max_length=100, description=EVENTS_HELP, examples=[["*"]])
    active: bool | None = Field(None, description="false stops deliveries; pending ones are given up",
                                examples=[False])
    description: str | None = Field(None, max_length=200)


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key of X-Vafa-Signature; shown only now, keep it safe",
                        examples=["whsec_3q2-7wEpbBy0oJ6uJ7sCqA6jNtpKqMkU9kRrzQm1eZs"])


ERROR_HELP = ("what went wrong: `HTTP <status>`, or a class — `connection refused`, `timed out`, `name not "
              "resolved`, `TLS error`, `address not allowed` (not a public address), `connection failed`; "
              "never the receiver's answer")


class AttemptOut(Schema):
    number: int
    at: dt.datetime
    status_code: int | None
    error: str = Field(description=ERROR_HELP)
    duration_ms: int


class DeliveryOut(Schema):
    id: int
    event_id: uuid.UUID
    event_type: str = Field(examples=["purchase.created"])
    status: str = Field(description="pending, delivered or failed")
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None = Field(description="when it is tried next (pending only)")
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str = Field(description=ERROR_HELP)
    data: dict
    attempts: list[AttemptOut]


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None
