"""The till's one write of its own: a purchase registered offline, sent when the connection returns. It goes
through the purchase service with the till's idempotency key (a resend after a reload, a lost answer or a
second tab is a replay, never a second purchase); a refusal is kept as a sync problem, never dropped."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.core.actor import Actor
from vafa.core.errors import Conflict, InvalidInput, NotFound, VafaError
from vafa.core.reasons import Reason
from vafa.members.models import Member
from vafa.purchases.services import PurchaseInput, record
from vafa.till.models import SyncProblem


def _refusal(exc: VafaError) -> Reason:
    """Why the server refused, as data: the error's code and field problems, worded when read (till.refused);
    an error that words itself (a voucher's or a reward's refusal) in both languages."""
    if isinstance(exc, InvalidInput):
        return Reason("till.refused", {"detail": exc.detail, "errors": [{"field": e["field"], "message": e["message"]}
                                                                        for e in exc.errors]})
    worded = {language: exc.describe(language) for language in ("fa", "en")}
    if all(worded.values()):
        return Reason("localized", {"text": worded})
    return Reason("till.refused", {"detail": exc.detail})


def sync_offline_purchase(business, branch, *, key: str, member_id: int, receipt: str, total: int,
                          occurred_at: dt.datetime | None, actor: Actor, language: str,
                          redeem_wallet: int = 0) -> dict:
    """{"status": "sent", "result": …} or {"status": "problem", "reason": …}. Offline, only wallet credit may be
    spent, up to the business's offline allowance; it is checked here again (the allowance may have changed, the
    member may have spent the credit meanwhile): a refusal is a sync problem like any other."""
    if not key or len(key) > 128:
        raise InvalidInput("key", "required" if not key else "too_long")
    earlier = SyncProblem.objects.filter(business=business, idempotency_key=key).first()
    if earlier is not None:  # sent again after the refusal was recorded: the same answer
        return {"status": "problem", "reason": earlier.reason_in(language, business.calendar), "code": earlier.code}
    payload = {"member_id": member_id, "receipt": receipt, "total": total, "redeem_wallet": redeem_wallet,
               "occurred_at": occurred_at.isoformat() if occurred_at else None}
    try:
        if redeem_wallet > business.offline_spend_allowance:
            raise Conflict("offline_allowance_exceeded", allowance=business.offline_spend_allowance)
        result = record(business, PurchaseInput(member_id=member_id, branch_code=branch.code, receipt=receipt,
                                                total=total, occurred_at=occurred_at, channel="till-offline",
                                                redeem_wallet=redeem_wallet), idempotency_key=key, actor=actor)
    except VafaError as exc:
        reason = _refusal(exc)
        try:
            with transaction.atomic():
                SyncProblem.objects.create(business=business, branch=branch, idempotency_key=key, payload=payload,
                                           member=Member.objects.filter(business=business, pk=member_id).first(),
                                           reason=reason, code=exc.detail[:64], actor_label=actor.label[:200])
        except IntegrityError:  # the other tab recorded it first
            pass
        return {"status": "problem", "reason": reason.render(language, business.calendar), "code": exc.detail}
    return {"status": "sent", "result": result}


SETTLE = {"resolve": SyncProblem.Status.RESOLVED, "dismiss": SyncProblem.Status.DISMISSED}


def settle_sync_problem(business, problem_id: int, *, action: str, note: str = "", actor: Actor,
                        branch_ids=None) -> SyncProblem:
    """The manager closes a refused offline purchase: resolved (settled with the customer, or entered again in
    the back office) or dismissed. Only an open problem can be settled; its note says how."""
    if action not in SETTLE:
        raise NotFound("not_found")
    with transaction.atomic():
        rows = SyncProblem.objects.select_for_update().filter(business=business, pk=problem_id)
        if branch_ids is not None:
            rows = rows.filter(branch_id__in=branch_ids)
        problem = rows.first()
        if problem is None:
            raise NotFound("not_found")
        if problem.status != SyncProblem.Status.OPEN:
            raise Conflict("already_done")
        problem.status, problem.note = SETTLE[action], note.strip()[:2000]
        problem.settled_by, problem.settled_at = actor.label[:200], timezone.now()
        problem.save(update_fields=["status", "note", "settled_by", "settled_at"])
    return problem
