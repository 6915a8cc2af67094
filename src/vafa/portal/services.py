"""The portal's own writes: members' purchase claims (F10) and their review. A claim that earns does so
through record_purchase, exactly as a till purchase; the claim row changes in the same transaction."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import parse_date
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.images import image_type
from vafa.core.validation import check_amount
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.outbox.services import emit
from vafa.portal.models import PurchaseClaim, ReportedReceipt
from vafa.portal.selectors import program_of
from vafa.program.document import ClaimSettings
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Branch

MAX_PHOTO_BYTES = 2 * 1024 * 1024
LIVE = (PurchaseClaim.Status.ACCEPTED, PurchaseClaim.Status.PENDING, PurchaseClaim.Status.APPROVED)


def claim_settings(business) -> ClaimSettings:
    document = program_of(business)
    return document.settings.claims if document else ClaimSettings()


def _local_today(business, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(business.timezone)).date()


def _moment(business, day: dt.date, now: dt.datetime) -> dt.datetime:
    """A claimed day as a moment: now when it is today, else noon of that day in the business's time zone."""
    if day == _local_today(business, now):
        return now
    return dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(business.timezone))


def _clean_claim(business, branch_code: str, receipt: str, amount, purchased_on, photo: bytes | None,
                 now: dt.datetime) -> tuple[Branch | None, str, dt.date | None]:
    errors: list[dict] = []
    receipt = (receipt or "").strip() if isinstance(receipt, str) else ""
    if not receipt:
        errors.append({"field": "receipt", "message": "required"})
    elif len(receipt) > 64:
        errors.append({"field": "receipt", "message": "too_long"})
    check_amount("amount", amount, errors)
    if not errors and amount <= 0:
        errors.append({"field": "amount", "message": "must_be_positive"})
    branch = Branch.objects.filter(business=business, code=branch_code or "", active=True).first()
    if branch is None:
        errors.append({"field": "branch", "message": "unknown_branch"})
    day = None
    try:
        day = parse_date(purchased_on, "purchased_on") if purchased_on not in (None, "") else None
        if day is None:
            errors.append({"field": "purchased_on", "message": "required"})
        elif day > _local_today(business, now):
            errors.append({"field": "purchased_on", "message": "date_in_future"})
        elif (_local_today(business, now) - day).days > claim_settings(business).max_age_days:
            errors.append({"field": "purchased_on", "message": "claim_too_old"})
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if photo is not None:
        if len(photo) > MAX_PHOTO_BYTES:
            errors.append({"field": "photo", "message": "photo_too_large"})
        elif image_type(photo) is None:
            errors.append({"field": "photo", "message": "photo_not_an_image"})
    if errors:
        raise InvalidInput(errors=errors)
    return branch, receipt, day


def _earn(business, claim: PurchaseClaim, total: int, at: dt.datetime, actor: Actor) -> Purchase:
    result = record_purchase(business, member_id=claim.member_id, branch_code=claim.branch.code,
                             receipt=claim.receipt, total=total, occurred_at=at, channel="portal", actor=actor)
    return Purchase.objects.get(business=business, pk=result["id"])


def claim_purchase(business, member_id: int, *, branch_code: str, receipt: str, amount: int, purchased_on,
                   photo: bytes | None = None, actor: Actor = SYSTEM,
                   now: dt.datetime | None = None) -> PurchaseClaim:
    """A member registers a purchase they made without showing their card. It is accepted (and earns) at once
    when a receipt the store reported agrees (same branch and receipt, amount within the tolerance, same day);
    otherwise it waits for review. Refused: the receipt is already another member's (or yours), more than
    `per_day` claims today, a purchase older than `max_age_days`. Flagged for review: an amount above
    `max_amount`, a reported receipt that does not agree."""
    now = now or timezone.now()
    branch, receipt, day = _clean_claim(business, branch_code, receipt, amount, purchased_on, photo, now)
    conf = claim_settings(business)
    with transaction.atomic():
        member = lock_member(member_id, business.pk)
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        day_start = dt.datetime.combine(_local_today(business, now), dt.time(0), tzinfo=ZoneInfo(business.timezone))
        if PurchaseClaim.objects.filter(business=business, member=member, created_at__gte=day_start).count() \
                >= conf.per_day:
            raise Conflict("too_many_claims_today")
        existing = Purchase.objects.filter(business=business, branch=branch, receipt=receipt).first()
        if existing is not None:
            raise Conflict("receipt_already_yours" if existing.member_id == member.pk else "receipt_claimed_by_another")
        earlier = (PurchaseClaim.objects.filter(business=business, branch=branch, receipt=receipt, status__in=LIVE)
                   .first())
        if earlier is not None:
            raise Conflict("receipt_already_yours" if earlier.member_id == member.pk else "receipt_claimed_by_another")
        claim = PurchaseClaim(business=business, member=member, branch=branch, receipt=receipt, amount=amount,
                              purchased_on=day, photo=photo, photo_type=image_type(photo) if photo else "",
                              created_at=now, **actor.fields())
        flags = []
        if conf.max_amount is not None and amount > conf.max_amount:
            flags.append("claim_amount_above_limit")
        reported = (ReportedReceipt.objects.select_for_update()
                    .filter(business=business, branch=branch, receipt=receipt, purchase__isnull=True).first())
        agrees = (reported is not None and abs(reported.total - amount) <= conf.amount_tolerance
                  and _local_today(business, reported.occurred_at) == day)
        if reported is not None and not agrees:
            flags.append("claim_does_not_match_receipt")
        claim.flags = flags
        if agrees and not flags:
            claim.save()
            claim.purchase = _earn(business, claim, reported.total, reported.occurred_at, actor)
            claim.status, claim.decided_at = PurchaseClaim.Status.ACCEPTED, now
            claim.save(update_fields=["purchase", "status", "decided_at"])
            reported.purchase = claim.purchase
            reported.save(update_fields=["purchase"])
        else:
            claim.save()
        emit(business.pk, "purchase_claim.created", {"claim_id": claim.pk, "member_id": member.pk,
                                                     "status": claim.status})
    return claim


def _pending(business, claim_id: int) -> PurchaseClaim:
    claim = (PurchaseClaim.objects.select_for_update().select_related("branch")
             .filter(business=business, pk=claim_id).first())
    if claim is None:
        raise NotFound("not_found")
    if claim.status != PurchaseClaim.Status.PENDING:
        raise Conflict("claim_already_decided")
    return claim


def approve_claim(business, claim_id: int, *, actor: Actor = SYSTEM, now: dt.datetime | None = None) -> PurchaseClaim:
    """The back office accepts a claim: the purchase is recorded and earns as a till purchase would."""
    now = now or timezone.now()
    with transaction.atomic():
        claim = _pending(business, claim_id)
        if Purchase.objects.filter(business=business, branch=claim.branch, receipt=claim.receipt).exists():
            raise Conflict("receipt_claimed_by_another")
        claim.purchase = _earn(business, claim, claim.amount, _moment(business, claim.purchased_on, now), actor)
        claim.status, claim.decided_at = PurchaseClaim.Status.APPROVED, now
        claim.save(update_fields=["purchase", "status", "decided_at"])
        emit(business.pk, "purchase_claim.approved", {"claim_id": claim.pk, "member_id": claim.member_id,
                                                      "purchase_id": claim.purchase_id})
    return claim


def reject_claim(business, claim_id: int, *, reason: str, actor: Actor = SYSTEM,
                 now: dt.datetime | None = None) -> PurchaseClaim:
    """The back office refuses a claim, with a reason the member reads in the portal."""
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("reason", "required")
    if len(reason) > 300:
        raise InvalidInput("reason", "too_long")
    with transaction.atomic():
        claim = _pending(business, claim_id)
        claim.status, claim.reason, claim.decided_at = PurchaseClaim.Status.REJECTED, reason, now or timezone.now()
        claim.save(update_fields=["status", "reason_code", "reason_params", "decided_at"])
        emit(business.pk, "purchase_claim.rejected", {"claim_id": claim.pk, "member_id": claim.member_id})
    return claim


def report_receipt(business, *, branch_code: str, receipt: str, total: int,
                   occurred_at: dt.datetime) -> tuple[ReportedReceipt, bool]:
    """The store's point of sale reports a receipt with no member at the till; a member may claim it later.
    Answers the row and whether it is new (a second report of the receipt keeps the first)."""
    errors: list[dict] = []
    check_amount("total", total, errors)
    branch = Branch.objects.filter(business=business, code=branch_code or "").first()
    if branch is None:
        errors.append({"field": "branch", "message": "unknown_branch"})
    receipt = (receipt or "").strip()
    if not receipt or len(receipt) > 64:
        errors.append({"field": "receipt", "message": "required" if not receipt else "too_long"})
    if errors:
        raise InvalidInput(errors=errors)
    with transaction.atomic():
        return ReportedReceipt.objects.get_or_create(business=business, branch=branch, receipt=receipt,
                                                     defaults={"total": total, "occurred_at": occurred_at})
