"""Club types (F6, F7, F24): a closed club's admission, paid plans (VIP) with renewal and expiry, and points
donated to causes. Each use case is one transaction; notifications go to the outbox in it."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from vafa.clubs.models import Cause, Donation, Partnership, Subscription
from vafa.clubs.selectors import club_progress, partner_business, partnership_state
from vafa.core.actor import SYSTEM, Actor
from vafa.core.calendar import add_months
from vafa.core.errors import Conflict, InvalidInput, NotFound
from vafa.core.reasons import Reason
from vafa.core.usecase import run_use_case
from vafa.core.validation import amount_problem
from vafa.ledger import services as ledger
from vafa.ledger.models import Account
from vafa.ledger.selectors import balances
from vafa.members.models import Member
from vafa.members.services import lock_member
from vafa.outbox.services import emit
from vafa.program.document import Plan, ProgramDocument
from vafa.program.engine import ClubStanding, club_standing
from vafa.program.selectors import active_program, context_of

# --- closed club ----------------------------------------------------------------------------------------------


def admit_if_qualified(member: Member, document: ProgramDocument, at: dt.datetime,
                       unwritten: dict[str, int] | None = None) -> ClubStanding | None:
    """A candidate becomes a member once the entry threshold is reached (or the club is open again). Runs in the
    caller's transaction, with the member's row lock held; answers the standing for the caller's result.
    `unwritten`: what the activity being recorded adds to each entry basis, when its row is not written yet."""
    if member.status != Member.Status.CANDIDATE:
        return None
    entry = document.club.entry if document.club.kind == "closed" else None
    standing = club_standing(document, club_progress(member, entry.basis) + (unwritten or {}).get(entry.basis, 0),
                             context_of(member.business)) if entry else None
    if standing is None or standing.admitted:
        _admit(member, at, "threshold" if standing else "open_club")
    return standing


def _admit(member: Member, at: dt.datetime, how: str) -> None:
    member.status = Member.Status.ACTIVE
    member.admitted_at = at
    member.save(update_fields=["status", "admitted_at"])
    emit(member.business_id, "member.admitted", {"member_id": member.pk, "how": how})


# --- paid plans (VIP) -----------------------------------------------------------------------------------------


def _plan_end(start: dt.datetime, plan: Plan, business) -> dt.datetime:
    """One period later in the business calendar, at the same local time of day."""
    zone = ZoneInfo(business.timezone)
    local = start.astimezone(zone)
    day = add_months(local.date(), 1 if plan.period == "monthly" else 12, business.calendar)
    return dt.datetime.combine(day, local.timetz()).astimezone(dt.UTC)


def _plan_reason(plan: Plan, renewal: bool) -> Reason:
    name = plan.name if isinstance(plan.name, dict) else {"fa": plan.name, "en": plan.name}
    code = "plan.renewal" if renewal else "plan.payment"
    return Reason(code, {"plan": name})


def _start_period(member: Member, plan: Plan, *, starts_at: dt.datetime, payment: str, auto_renew: bool,
                  at: dt.datetime, actor: Actor, renewal: bool) -> Subscription:
    """Pay for one period (wallet credit, or recorded as paid elsewhere) and hold the plan until its end."""
    business = member.business
    entry = None
    if payment == Subscription.Payment.WALLET and plan.price:
        entry = ledger.debit(member, "wallet", plan.price, reason=_plan_reason(plan, renewal), at=at,
                             actor=actor, source=f"plan:{plan.code}")
    subscription = Subscription.objects.create(
        business=business, member=member, plan=plan.code, period=plan.period, price=plan.price, payment=payment,
        starts_at=starts_at, ends_at=_plan_end(starts_at, plan, business), auto_renew=auto_renew, entry=entry,
        created_at=at, **actor.fields())
    member.plan, member.plan_expires_at = plan.code, subscription.ends_at
    member.save(update_fields=["plan", "plan_expires_at"])
    emit(business.pk, "plan.renewed" if renewal else "plan.started",
         {"member_id": member.pk, "plan": plan.code, "subscription_id": subscription.pk,
          "ends_at": subscription.ends_at.isoformat(), "price": plan.price, "payment": payment})
    return subscription


def subscription_json(subscription: Subscription) -> dict:
    return {"id": subscription.pk, "member_id": subscription.member_id, "plan": subscription.plan,
            "period": subscription.period, "price": subscription.price, "payment": subscription.payment,
            "starts_at": subscription.starts_at.isoformat(), "ends_at": subscription.ends_at.isoformat(),
            "auto_renew": subscription.auto_renew, "status": subscription.status}


def subscribe(business, member_id: int, plan_code: str, *, payment: str = "wallet", auto_renew: bool = True,
              at: dt.datetime | None = None, actor: Actor = SYSTEM, idempotency_key: str | None = None) -> dict:
    """Buy a plan for one period, or extend the plan the member holds by one period from its end. Paying for a
    plan admits a closed club's candidate: the fee is the entry."""
    if payment not in Subscription.Payment.values:
        raise InvalidInput("payment", "unknown_payment")
    if not isinstance(auto_renew, bool):
        raise InvalidInput("auto_renew", "must_be_boolean")

    def use_case() -> dict:
        now = at or timezone.now()
        member = lock_member(member_id, business.pk)
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        _, document = active_program(business)
        plan = document.plan(plan_code)
        if plan is None:
            raise InvalidInput("plan", "unknown_plan")
        held = member.plan_at(now)
        if held and held != plan.code:
            raise Conflict("plan_held", plan=held)
        current = (Subscription.objects.filter(business=business, member=member, status=Subscription.Status.ACTIVE)
                   .order_by("-ends_at").first())
        renewal = held == plan.code and current is not None
        subscription = _start_period(member, plan, starts_at=current.ends_at if renewal else now,
                                     payment=payment, auto_renew=auto_renew, at=now, actor=actor, renewal=renewal)
        if member.status == Member.Status.CANDIDATE:
            _admit(member, now, "plan")
        return subscription_json(subscription) | {"balance": balances(member, now)}

    result, replayed = run_use_case(business, "subscription", {"member_id": member_id, "plan": plan_code,
                                                               "payment": payment, "auto_renew": auto_renew},
                                    use_case, actor=actor, key=idempotency_key, object_type="subscription")
    return result | {"replayed": replayed}


@transaction.atomic
def stop_renewal(business, subscription_id: int, *, actor: Actor = SYSTEM) -> dict:
    """The member keeps the plan to the end of the period they paid for; it is not renewed after that."""
    subscription = (Subscription.objects.select_for_update()
                    .filter(business=business, pk=subscription_id).first())
    if subscription is None:
        raise NotFound("subscription_not_found")
    later = Subscription.objects.filter(business=business, member_id=subscription.member_id,
                                        status=Subscription.Status.ACTIVE, auto_renew=True)
    if later.update(auto_renew=False):
        emit(business.pk, "plan.renewal_stopped", {"member_id": subscription.member_id, "plan": subscription.plan})
    subscription.refresh_from_db()
    return subscription_json(subscription)


def _renew_or_expire(subscription: Subscription, now: dt.datetime) -> str:
    member = lock_member(subscription.member_id, subscription.business_id)
    subscription.refresh_from_db()
    if subscription.status != Subscription.Status.ACTIVE or subscription.ends_at > now:
        return "skipped"  # another run got here first
    _, document = active_program(member.business)
    plan = document.plan(subscription.plan)
    if (subscription.auto_renew and plan is not None and subscription.payment == Subscription.Payment.WALLET
            and ledger.spendable(member, "wallet", at=now) >= plan.price):
        subscription.status = Subscription.Status.EXPIRED
        subscription.save(update_fields=["status"])
        _start_period(member, plan, starts_at=subscription.ends_at, payment=subscription.payment, auto_renew=True,
                      at=now, actor=SYSTEM, renewal=True)
        return "renewed"
    subscription.status = Subscription.Status.EXPIRED
    subscription.save(update_fields=["status"])
    if member.plan == subscription.plan and member.plan_expires_at == subscription.ends_at:
        member.plan, member.plan_expires_at = "", None
        member.save(update_fields=["plan", "plan_expires_at"])
    emit(member.business_id, "plan.expired", {"member_id": member.pk, "plan": subscription.plan,
                                              "subscription_id": subscription.pk})
    return "expired"


def renew_plans(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: a period that has ended is renewed from the wallet when the member asked for renewal
    and can pay (a plan paid elsewhere is renewed at the till), otherwise it expires; members whose period
    ends within the plan's reminder days are reminded once. Idempotent."""
    now = now or timezone.now()
    done = {"renewed": 0, "expired": 0, "reminded": 0}
    due = Subscription.objects.filter(status=Subscription.Status.ACTIVE, ends_at__lte=now).order_by("ends_at", "pk")
    for subscription_id in due.values_list("pk", flat=True):
        subscription = Subscription.objects.get(pk=subscription_id)
        with transaction.atomic():
            outcome = _renew_or_expire(subscription, now)
        if outcome in done:
            done[outcome] += 1
    soon = (Subscription.objects.filter(status=Subscription.Status.ACTIVE, reminded_at__isnull=True,
                                        ends_at__gt=now, ends_at__lte=now + dt.timedelta(days=366))
            .select_related("business"))
    for subscription in soon:
        _, document = active_program(subscription.business)
        plan = document.plan(subscription.plan)
        if plan is None or subscription.ends_at - now > dt.timedelta(days=plan.reminder_days):
            continue
        with transaction.atomic():
            if Subscription.objects.filter(pk=subscription.pk, reminded_at__isnull=True).update(reminded_at=now):
                emit(subscription.business_id, "plan.expiring",
                     {"member_id": subscription.member_id, "plan": subscription.plan,
                      "ends_at": subscription.ends_at.isoformat(), "auto_renew": subscription.auto_renew})
                done["reminded"] += 1
    return done


# --- causes -----------------------------------------------------------------------------------------------------


def cause_json(cause: Cause, totals: dict | None = None) -> dict:
    totals = totals or {}
    return {"code": cause.code, "name": cause.name, "description": cause.description, "goal": cause.goal,
            "active": cause.active, "points": totals.get("points", 0), "donors": totals.get("donors", 0)}


def create_cause(business, *, code: str, name: str, description: str = "", goal: int | None = None) -> dict:
    errors: list[dict] = []
    code = code.strip().lower() if isinstance(code, str) else ""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]{0,31}", code):
        errors.append({"field": "code", "message": "bad_cause_code"})
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        errors.append({"field": "name", "message": "required" if not name else "too_long"})
    if not isinstance(description, str) or len(description) > 2000:
        errors.append({"field": "description", "message": "too_long"})
    if goal is not None and (problem := amount_problem(goal, allow_zero=False)):
        errors.append({"field": "goal", "message": problem})
    if errors:
        raise InvalidInput(errors=errors)
    try:
        with transaction.atomic():
            cause = Cause.objects.create(business=business, code=code, name=name, description=description,
                                         goal=goal)
    except IntegrityError:
        raise Conflict("cause_exists", code=code) from None
    return cause_json(cause)


def donate(business, member_id: int, cause_code: str, points: int, *, at: dt.datetime | None = None,
           actor: Actor = SYSTEM, idempotency_key: str | None = None) -> dict:
    """A member gives points to a cause: the points leave their balance for the business's donations account."""
    problem = amount_problem(points, allow_zero=False)
    if problem:
        raise InvalidInput("points", problem)

    def use_case() -> dict:
        now = at or timezone.now()
        member = lock_member(member_id, business.pk)
        if member.status == Member.Status.BLOCKED:
            raise Conflict("member_blocked")
        cause = Cause.objects.filter(business=business, code=str(cause_code).strip().lower(), active=True).first()
        if cause is None:
            raise NotFound("cause_not_found")
        reason = Reason("cause.donation", {"points": points, "cause": cause.name})
        entry = ledger.debit(member, "points", points, reason=reason, to_kind=Account.Kind.DONATED, at=now,
                             actor=actor, source=f"cause:{cause.code}")
        donation = Donation.objects.create(business=business, cause=cause, member=member, points=points, entry=entry,
                                           created_at=now, **actor.fields())
        emit(business.pk, "cause.donated", {"member_id": member.pk, "cause": cause.code, "points": points,
                                            "donation_id": donation.pk})
        return {"id": donation.pk, "cause": cause.code, "member_id": member.pk, "points": points,
                "reason": reason.render(business.language, business.calendar),
                "balance": balances(member, now)}

    result, replayed = run_use_case(business, "donation", {"member_id": member_id, "cause": cause_code,
                                                           "points": points},
                                    use_case, actor=actor, key=idempotency_key, object_type="donation")
    return result | {"replayed": replayed}


# --- partner network ------------------------------------------------------------------------------------------


@transaction.atomic
def consent_to_partner(business, partner_slug: str, *, at: dt.datetime | None = None) -> dict:
    """Offer a partnership, or accept the partner's offer; the network is in force when both have."""
    partner = partner_business(business, partner_slug)
    now = at or timezone.now()
    row, changed = Partnership.objects.get_or_create(business=business, partner=partner,
                                                     defaults={"consented_at": now})
    if not changed and row.ended_at is not None:
        row.consented_at, row.ended_at = now, None
        row.save(update_fields=["consented_at", "ended_at"])
        changed = True
    if changed:
        _partnership_changed(business, partner)
    return {"partner": partner.slug, "name": partner.name, "state": partnership_state(business, partner)}


def _partnership_changed(business, partner) -> None:
    """Both sides hear of a change; a request that changes nothing tells neither (nor fills the partner's
    outbox)."""
    for side, other in ((business, partner), (partner, business)):
        emit(side.pk, "partnership.changed", {"partner": other.slug, "state": partnership_state(side, other)})


@transaction.atomic
def end_partnership(business, partner_slug: str, *, at: dt.datetime | None = None) -> dict:
    partner = partner_business(business, partner_slug)
    ended = Partnership.objects.filter(business=business, partner=partner, ended_at__isnull=True).update(
        ended_at=at or timezone.now())
    if ended:
        _partnership_changed(business, partner)
    return {"partner": partner.slug, "name": partner.name, "state": partnership_state(business, partner)}
