from django.http import HttpResponse
from ninja import Query, Router, Status

from vafa.access.models import Scope
from vafa.api.auth import client_ip
from vafa.api.common import business, idempotent_write, page, write
from vafa.core.errors import InvalidInput
from vafa.members.selectors import member_by_id
from vafa.members.services import MobileVerification, verify_mobile
from vafa.messaging import broadcasts, otp, selectors, services, templates
from vafa.messaging.models import Message, MessageClass
from vafa.messaging.schemas import (
    BroadcastIn,
    MessageIn,
    MessageOut,
    MessagePage,
    OptOutIn,
    OtpOut,
    OtpRequestIn,
    OtpVerifyIn,
    PreviewIn,
    PreviewOut,
    SettingsIn,
    SettingsOut,
    TemplateIn,
    TemplateOut,
    VerifiedOut,
)

router = Router(tags=["messaging"])
AREA = "messaging"


@router.get("/messaging/settings", response=SettingsOut, summary="Messaging settings (admin)",
            description="The SMS API key is answered as its last 4 characters only.")
def get_settings(request):
    request.auth.require(Scope.ADMIN, area=AREA)
    return selectors.settings_json(selectors.settings_of(business(request)))


@router.put("/messaging/settings", response=SettingsOut, summary="Change messaging settings (admin)",
            description="Send only the fields to change. `sms_api_key` is stored encrypted.")
def put_settings(request, payload: SettingsIn):
    request.auth.require(Scope.ADMIN, area=AREA)
    changes = payload.model_dump(exclude_unset=True)
    row, _ = write(request, "messaging.settings", changes,
                   lambda: services.update_settings(business(request), **changes), status=200,
                   object_type="messaging_settings", object_id=lambda row: row.pk)
    return selectors.settings_json(row)


@router.get("/messaging/templates", response=list[TemplateOut], by_alias=True,
            summary="Message templates per kind and language (admin)")
def get_templates(request):
    request.auth.require(Scope.ADMIN, area=AREA)
    return selectors.templates_json(business(request))


@router.put("/messaging/templates", response=list[TemplateOut], by_alias=True,
            summary="Change message templates (admin)",
            description="A list of {kind, language, text}; an unknown {variable} is a 422. Empty text restores "
                        "the default. Variables: " + ", ".join("{" + v + "}" for v in templates.VARIABLES))
def put_templates(request, payload: list[TemplateIn]):
    request.auth.require(Scope.ADMIN, area=AREA)
    tenant = business(request)
    items = [item.model_dump() for item in payload]
    write(request, "messaging.templates", {"templates": items}, lambda: services.save_templates(tenant, items),
          status=200, object_type="message_templates", object_id=None)
    return selectors.templates_json(tenant)


@router.post("/messaging/templates/preview", response=PreviewOut, summary="Render a template (read)",
             description="Text, characters, SMS parts (UCS-2: 70 in one part, 67 per part; GSM-7: 160/153) "
                         "and cost at the business's price per part.")
def preview(request, payload: PreviewIn):
    request.auth.require(Scope.READ)
    tenant = business(request)
    member = member_by_id(tenant, payload.member_id) if payload.member_id is not None else None
    return selectors.preview(tenant, kind=payload.kind, text=payload.text, member=member)


@router.post("/otp", response={202: OtpOut}, summary="Send a one-time code to a mobile (write)",
             description="5 digits, valid 2 minutes, 5 tries. At most one a minute and five an hour per mobile, "
                         "and 20 an hour per client address (429 with `retry_after`). The answer is the same "
                         "whether or not the mobile is a member's.")
def request_otp(request, payload: OtpRequestIn):
    request.auth.require(Scope.WRITE)
    address = payload.client_address or client_ip(request) or ""
    answer = otp.request_code(business(request), payload.mobile, payload.purpose, address)
    return Status(202, answer)


@router.post("/otp/verify", response=VerifiedOut, summary="Check a one-time code (write)",
             description="422 `wrong_code` or `code_expired`, 429 `too_many_attempts` after 5 wrong tries. A "
                         "verified mobile of a member that signed up on the join page pays its held sign-up "
                         "rewards.")
def verify_otp(request, payload: OtpVerifyIn):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    mobile = otp.verify_code(tenant, payload.mobile, payload.purpose, payload.code)
    verify_mobile(tenant, MobileVerification(mobile), actor=request.auth.actor)
    return {"mobile": mobile, "verified": True}


@router.post("/messaging/inbound/kavenegar/{token}", auth=None, response={200: dict},
             summary="Kavenegar's callback for replies and delivery reports",
             description="Public; the secret token in the path (see `inbound_url` in the settings) identifies the "
                         "business. A reply (`from`, `message`) with the opt-out word opts the sender out of "
                         "promotional messages; a delivery report (`messageid`, `status`) records delivered, "
                         "failed or blocked.")
def inbound(request, token: str):
    data = request.POST if request.POST else request.GET
    if "message" not in data and "messageid" in data:  # a delivery report
        return {"updated": services.delivery_report(token, data.get("messageid", ""), data.get("status", ""))}
    opted_out = services.inbound_reply(token, data.get("from", ""), data.get("message", ""))
    return {"opted_out": opted_out}


@router.post("/messaging/opt-outs", response=dict, summary="Opt a member out of (or back into) messages (write)")
def set_opt_out(request, payload: OptOutIn):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = member_by_id(tenant, payload.member_id)
    def change() -> None:
        if payload.opted_out:
            services.opt_out(tenant, member, everything=payload.everything, how="api")
        else:
            services.opt_in(tenant, member)

    write(request, "messaging.opt_out", {"member_id": member.pk, **payload.model_dump()}, change, status=200,
          object_type="member", object_id=lambda _: member.pk)
    return {"member_id": member.pk, "opted_out": payload.opted_out, "everything": payload.everything
            and payload.opted_out}


@router.post("/messaging/broadcasts", response={200: dict, 201: dict}, summary="Send a broadcast (admin)",
             description="`dry_run: true` answers recipients, parts and cost without sending. Promotional "
                         "broadcasts skip members who opted out, carry the opt-out line and wait for the end of "
                         "quiet hours.")
def create_broadcast(request, payload: BroadcastIn, response: HttpResponse):
    request.auth.require(Scope.ADMIN, area=AREA)
    tenant = business(request)
    data = payload.model_dump()
    if payload.dry_run:
        return Status(200, broadcasts.create_broadcast(tenant, audience=payload.audience, text=payload.text,
                                                       template=payload.template, promotional=payload.promotional,
                                                       send_at=payload.send_at, dry_run=True))
    return idempotent_write(request, response, "broadcast.create", data | {"send_at": str(payload.send_at)},
                            lambda: broadcasts.create_broadcast(
                                tenant, audience=payload.audience, text=payload.text, template=payload.template,
                                promotional=payload.promotional, send_at=payload.send_at,
                                created_by=request.auth.actor.label), object_type="broadcast")


@router.get("/messaging/broadcasts/{broadcast_id}", response=dict, summary="A broadcast with counts by state (read)")
def get_broadcast(request, broadcast_id: int):
    request.auth.require(Scope.READ)
    row = broadcasts.broadcast_by_id(business(request), broadcast_id)
    return {"id": row.pk, "state": row.state, "send_at": row.send_at.isoformat(), "recipients": row.recipients,
            "promotional": row.promotional, "counts": selectors.broadcast_counts(row)}


@router.get("/messaging/messages", response=MessagePage, summary="The message log, newest first (read)")
def list_messages(request, member_id: int | None = None, broadcast_id: int | None = None,
                  status: str | None = Query(None, pattern="^(queued|sending|sent|delivered|failed|blocked|skipped)$"),
                  cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    rows = selectors.messages(business(request), member_id=member_id, broadcast_id=broadcast_id, status=status)
    return page(rows, cursor, limit, selectors.message_json)


@router.post("/messages", response={201: MessageOut}, summary="Send one message to one member (write)",
             description="Queued at once and sent by the worker (`vafa messages send-due`).")
def send_message(request, payload: MessageIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    if payload.channel not in (Message.Channel.SMS, Message.Channel.EMAIL):
        raise InvalidInput("channel", "unknown_choice")

    def use_case() -> dict:
        member = member_by_id(tenant, payload.member_id)
        if payload.channel == Message.Channel.EMAIL and not member.email:
            raise InvalidInput("member_id", "no_email")
        if templates.unknown_variables(payload.text):
            raise InvalidInput("text", "unknown_variable")
        text = templates.render(payload.text, selectors.member_values(tenant, member))
        row = services.queue_message(tenant, member=member, kind="manual", text=text, channel=payload.channel,
                                     message_class=MessageClass.PROMOTIONAL if payload.promotional
                                     else MessageClass.INFORMATIONAL)
        return selectors.message_json(row) | {"created_at": row.created_at.isoformat(), "sent_at": None}

    return idempotent_write(request, response, "message.create", payload.model_dump(), use_case,
                            object_type="message")
