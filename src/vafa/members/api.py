import io
import tempfile
from typing import Literal
from urllib.parse import urlencode

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Status

from vafa.access.models import Scope
from vafa.api import api
from vafa.api.common import business, idempotency_key, page
from vafa.api.problems import language_of
from vafa.core.errors import IdempotencyConflict, NotFound
from vafa.core.exports import write_csv, write_xlsx
from vafa.core.schemas import shaped
from vafa.core.usecase import write_audit
from vafa.ledger.models import Entry
from vafa.members import exports, selectors, services
from vafa.members.models import Member
from vafa.members.schemas import (
    BalanceOut,
    CardIn,
    CardOut,
    EntryPage,
    MemberIn,
    MemberOut,
    MemberPage,
    MemberPatch,
    ReferralOut,
)
from vafa.program import cache as program_cache
from vafa.program.document import localize
from vafa.program.engine import tier_progress
from vafa.purchases import counters
from vafa.purchases.selectors import tier_metric

router = Router(tags=["members"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


member_json = services.member_data

@router.post("/members", response={201: MemberOut}, summary="Sign up a member",
             description="Mobile is required (any Iranian spelling, Persian digits too); a replay of the same "
                         "Idempotency-Key answers the first result.")
def sign_up(request, payload: MemberIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant, key = business(request), idempotency_key(request)
    profile = payload.model_dump(exclude={"mobile", "source", "referral_code"})
    new = services.SignUp.check(tenant, mobile=payload.mobile, join_source=payload.source,
                                referral_code=payload.referral_code, **profile)
    try:
        done = services.sign_up_member(tenant, new, actor=request.auth.actor, idempotency_key=key)
    except IdempotencyConflict:  # looked up only then: the common path pays nothing for it
        earlier = selectors.signed_up_before(tenant, key, payload.model_dump())
        if earlier is None:
            raise
        response["Idempotent-Replayed"] = "true"
        return Status(201, earlier)
    if done.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, done.answer)


@router.get("/members", response=MemberPage, summary="Find members",
            description="By `phone` (any spelling), `card` number, member `code`, or free text `q` (name, mobile).")
def list_members(request, phone: str | None = None, card: str | None = None, code: str | None = None,
                 q: str | None = None, cursor: str | None = None, limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    tenant = business(request)
    if phone or card or code:
        try:
            found = [selectors.find_member(tenant, phone=phone, card=card, code=code)]
        except NotFound:
            found = []
        return {"items": [member_json(m) for m in found], "next_cursor": None}
    queryset = Member.objects.filter(business=tenant)
    if q:
        ids = [m.pk for m in selectors.search_members(tenant, q, limit=1000)]
        queryset = queryset.filter(pk__in=ids)
    return page(queryset, cursor, limit, member_json)


@router.get("/members/export", response={200: None}, summary="Every member with balances, as CSV or Excel",
            description="Columns: code, mobile, names, tier, joined date (business calendar) and the available "
                        "balance of each currency. Text a spreadsheet would run as a formula is prefixed with `'`.",
            openapi_extra={"responses": {200: {"description": "The export", "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}})
def export_members(request, format: Literal["csv", "xlsx"] = "csv"):  # noqa: A002 - the query parameter's name
    request.auth.require(Scope.READ, whole_business=True)
    tenant = business(request)
    write_audit(tenant.pk, request.auth.actor, operation="member.export", object_type="member", object_id="export",
                params={"format": format})  # a read, but of everyone's personal data: who took it, and when
    rows = exports.member_rows(tenant)
    name = f"members-{tenant.slug}.{format}"
    if format == "csv":
        response = StreamingHttpResponse(write_csv(exports.HEADER, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    file = tempfile.TemporaryFile()
    write_xlsx(file, exports.HEADER, rows, title="members")
    file.seek(0)
    return FileResponse(file, as_attachment=True, filename=name, content_type=XLSX)


@router.get("/members/{member_id}", response=MemberOut, summary="A member's profile")
def get_member(request, member_id: int):
    request.auth.require(Scope.READ)
    return member_json(selectors.member_by_id(business(request), member_id))


@router.patch("/members/{member_id}", response=MemberOut, summary="Update a member's profile")
def update_member(request, member_id: int, payload: MemberPatch):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    change = services.MemberUpdate.check(tenant, member_id, **payload.model_dump(exclude_unset=True))
    return services.update_member(tenant, change, actor=request.auth.actor).answer


@router.get("/members/{member_id}/balance", response=BalanceOut, summary="Balances, tier and what expires soon")
def get_balance(request, member_id: int, response: HttpResponse, expiring_days: int = Query(30, ge=1, le=3650)):
    request.auth.require(Scope.READ)
    now = timezone.now()
    business_id = request.auth.business_id
    # one statement: the member, the business's cache token, the balances and the tier metric on the program this
    # process holds (members.selectors.balance_read); the token confirms the business and the program, or has
    # them read again, and the metric with them
    held = program_cache.held(business_id)
    tier = counters.tier_metric_query(business_id, member_id, held.document, now) if held else None
    brief, token, sheet, metric = selectors.balance_read(business_id, member_id, now, expiring_days, tier)
    tenant = business(request, token)
    setup = program_cache.setup_of(tenant, token)
    document = setup.document
    if setup is not held:
        metric = tier_metric(brief.member(), document, now)
    elif metric is None:
        metric = 0  # no tiers
    progress = tier_progress(document, brief.tier or None, metric)
    lang = tenant.language
    answer = {"member_id": brief.id, **sheet["balances"],
              "gift_credit_restrictions": sheet["gift_credit_restrictions"],
              "tier": {"code": brief.tier or None,
                       "name": localize(progress.current.name, lang) if progress.current else None,
                       "metric": metric, "next_code": progress.next.code if progress.next else None,
                       "next_name": localize(progress.next.name, lang) if progress.next else None,
                       "remaining_to_next": progress.remaining},
              "expiring_soon": sheet["expiring_soon"]}
    # as BalanceOut validates and dumps it, rendered by the API's renderer: the same bytes, without checking again
    # what this code has just built (core.schemas.shaped; tests/members/test_balance_answer.py)
    return api.create_response(request, shaped(BalanceOut, answer), temporal_response=response)


@router.get("/members/{member_id}/ledger", response=EntryPage, summary="Ledger entries, newest first, with reasons")
def get_ledger(request, member_id: int, currency: str | None = None, cursor: str | None = None,
               limit: int = Query(50, ge=1, le=200)):
    request.auth.require(Scope.READ)
    tenant = business(request)
    member = selectors.member_by_id(tenant, member_id)
    entries = Entry.objects.filter(business=tenant, member=member).select_related("debit", "credit")
    if currency:
        entries = entries.filter(currency=currency)

    language = language_of(request)

    def entry_json(entry: Entry) -> dict:
        into_member = entry.credit.member_id == member.pk
        side = entry.credit if into_member else entry.debit
        if entry.debit.member_id == member.pk and entry.credit.member_id == member.pk:
            into_member = True  # pending → available: shown as arriving in the available account
        return {"id": entry.pk, "kind": entry.kind, "currency": entry.currency,
                "amount": entry.amount if into_member else -entry.amount, "account": side.kind,
                "reason": entry.reason_in(language, tenant.calendar), "reason_code": entry.reason_code,
                "reason_params": entry.reason_params, "purchase_id": entry.purchase_id, "rule_id": entry.rule_id,
                "created_at": entry.created_at, "actor_kind": entry.actor_kind, "actor_label": entry.actor_label}

    return page(entries, cursor, limit, entry_json)


@router.post("/members/{member_id}/cards", response={201: CardOut}, summary="Issue a card, or replace one",
             description="With `replace`, the old card is blocked and the new one keeps every balance (کارت المثنی).")
def issue_card(request, member_id: int, payload: CardIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant, key, actor = business(request), idempotency_key(request), request.auth.actor
    if payload.replace:
        done = services.replace_card(tenant, services.CardReplacement.check(member_id, payload.replace,
                                                                            kind=payload.kind),
                                     actor=actor, idempotency_key=key)
    else:
        done = services.issue_card(tenant, services.CardIssue.check(member_id, kind=payload.kind,
                                                                    number=payload.number),
                                   actor=actor, idempotency_key=key)
    if done.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, done.answer)


@router.get("/members/{member_id}/referral", response=ReferralOut, summary="The member's referral code, link and QR")
def referral(request, member_id: int, source: str = "referral"):
    # segno (QR codes) is loaded only when a referral QR code is asked for.
    import segno

    request.auth.require(Scope.READ)
    tenant = business(request)
    member = selectors.member_by_id(tenant, member_id)
    link = f"{settings.PUBLIC_URL}/join/{tenant.slug}/?{urlencode({'ref': member.code, 'source': source[:100]})}"
    svg = io.BytesIO()
    segno.make(link, error="m").save(svg, kind="svg", scale=4)
    return {"code": member.code, "link": link, "qr_svg": svg.getvalue().decode(),
            "referred": Member.objects.filter(business=tenant, referred_by=member).count()}
