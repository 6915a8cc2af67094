"""The till's one write of its own: a purchase registered offline, sent when the connection returns. It goes
through the purchase service with the till's idempotency key (a resend after a reload, a lost answer or a
second tab is a replay, never a second purchase); a refusal is kept as a sync problem, never dropped. The
manager settles a problem, or sends its purchase again the same way once the cause is fixed."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.core.actor import Actor
from vafa.core.errors import Conflict, InvalidInput, NotFound, VafaError
from vafa.core.reasons import Reason
from vafa.members.models import Member
from vafa.purchases.services import PurchaseInput, PurchaseResult, record
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


def _send(business, branch, payload: dict, *, key: str, actor: Actor) -> PurchaseResult:
    """The offline purchase (as a sync problem stores it) through the purchase use case with the till's key.
    Offline, only wallet credit may be spent, up to the business's offline allowance, checked as it is now."""
    redeem_wallet = payload.get("redeem_wallet") or 0
    if redeem_wallet > business.offline_spend_allowance:
        raise Conflict("offline_allowance_exceeded", allowance=business.offline_spend_allowance)
    occurred_at = dt.datetime.fromisoformat(payload["occurred_at"]) if payload.get("occurred_at") else None
    return record(business, PurchaseInput(member_id=payload["member_id"], branch_code=branch.code,
                                          receipt=payload["receipt"], total=payload["total"],
                                          occurred_at=occurred_at, channel="till-offline",
                                          redeem_wallet=redeem_wallet), idempotency_key=key, actor=actor)


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
        result = _send(business, branch, payload, key=key, actor=actor)
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


def _open_problem(business, problem_id: int, branch_ids) -> SyncProblem:
    """The open problem, locked until the caller's transaction ends; NotFound outside the operator's branches."""
    rows = SyncProblem.objects.select_for_update().select_related("branch").filter(business=business, pk=problem_id)
    if branch_ids is not None:
        rows = rows.filter(branch_id__in=branch_ids)
    problem = rows.first()
    if problem is None:
        raise NotFound("not_found")
    if problem.status != SyncProblem.Status.OPEN:
        raise Conflict("already_done")
    return problem


def _settle(problem: SyncProblem, status: str, actor: Actor) -> None:
    problem.status, problem.settled_by, problem.settled_at = status, actor.label[:200], timezone.now()


def settle_sync_problem(business, problem_id: int, *, action: str, note: str = "", actor: Actor,
                        branch_ids=None) -> SyncProblem:
    """The manager closes a refused offline purchase: resolved (settled with the customer, or entered again in
    the back office) or dismissed. Only an open problem can be settled; its note says how."""
    if action not in SETTLE:
        raise NotFound("not_found")
    with transaction.atomic():
        problem = _open_problem(business, problem_id, branch_ids)
        _settle(problem, SETTLE[action], actor)
        problem.note = note.strip()[:2000]
        problem.save(update_fields=["status", "note", "settled_by", "settled_at"])
    return problem


def send_again(business, problem_id: int, *, actor: Actor, branch_ids=None) -> SyncProblem:
    """The manager, having fixed the cause (unblocked the member, raised the offline allowance …), sends an open
    problem's purchase again: the same use case and checks as the till's sync, with the till's key, so a purchase
    that did land meanwhile is a replay, never a second purchase. Sent: the problem is resolved by the manager,
    saying so (till.sent_again). Refused again: it stays open with the new refusal (till.refused_again) beside
    the first. The problem stays locked meanwhile: two managers sending at once send it once."""
    with transaction.atomic():
        problem = _open_problem(business, problem_id, branch_ids)
        try:
            result = _send(business, problem.branch, problem.payload, key=problem.idempotency_key, actor=actor)
        except VafaError as exc:  # the purchase's own savepoint is rolled back; the problem's row is not
            refusal = _refusal(exc)
            outcome = Reason("till.refused_again", {"refusal": {"code": refusal.code, "params": dict(refusal.params)}})
        else:
            outcome = Reason("till.sent_again", {"purchase_id": result["purchase_id"],
                                                 "replayed": bool(result.get("replayed"))})
            _settle(problem, SyncProblem.Status.RESOLVED, actor)
        problem.sent_again_by, problem.sent_again_at = actor.label[:200], timezone.now()
        problem.sent_again_code, problem.sent_again_params = outcome.code, dict(outcome.params)
        problem.save(update_fields=["status", "settled_by", "settled_at", "sent_again_by", "sent_again_at",
                                    "sent_again_code", "sent_again_params"])
    return problem
