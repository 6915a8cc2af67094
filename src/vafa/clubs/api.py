"""Paid plans, causes and the partner network over the API."""

from django.http import HttpResponse
from ninja import Query, Router, Status

from vafa.access.models import Scope
from vafa.api.common import business, idempotency_key, write
from vafa.clubs import selectors, services
from vafa.clubs.schemas import (
    CauseIn,
    CauseOut,
    DonationIn,
    DonationOut,
    PartnerMemberOut,
    PartnerOut,
    PlanOut,
    SubscribedOut,
    SubscriptionIn,
    SubscriptionOut,
)
from vafa.members.selectors import member_by_id
from vafa.program.document import localize
from vafa.program.selectors import active_program

router = Router(tags=["clubs"])


def _replayed(result: dict, response: HttpResponse) -> dict:
    if result.pop("replayed"):
        response["Idempotent-Replayed"] = "true"
    return result


@router.get("/plans", response=list[PlanOut], summary="The paid membership plans (VIP) of the program")
def list_plans(request):
    request.auth.require(Scope.READ)
    tenant = business(request)
    _, document = active_program(tenant)
    language = tenant.language
    return [_plan_json(plan.model_dump(mode="json"), language) for plan in document.plans]


def _plan_json(plan: dict, language: str) -> dict:
    return {"code": plan["code"], "name": localize(plan["name"], language), "price": plan["price"],
            "period": plan["period"], "multiplier": str(plan["multiplier"]),
            "discount_percent": str(plan["discount_percent"]),
            "perks": [localize(perk, language) for perk in plan["perks"]]}


@router.post("/members/{member_id}/subscriptions", response={201: SubscribedOut},
             summary="Buy or renew a paid plan for a member",
             description="Renewing the plan the member holds adds one period from its end. Paying admits a closed "
                         "club's candidate.")
def subscribe(request, member_id: int, payload: SubscriptionIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = member_by_id(tenant, member_id)
    result = services.subscribe(tenant, member.pk, payload.plan, payment=payload.payment,
                                auto_renew=payload.auto_renew, actor=request.auth.actor,
                                idempotency_key=idempotency_key(request))
    return Status(201, _replayed(result, response))


@router.get("/members/{member_id}/subscriptions", response=list[SubscriptionOut],
            summary="A member's paid periods, newest first")
def member_subscriptions(request, member_id: int):
    request.auth.require(Scope.READ)
    member = member_by_id(business(request), member_id)
    return [services.subscription_json(s) for s in selectors.subscriptions_of(member)[:200]]


@router.post("/subscriptions/{subscription_id}/stop-renewal", response=SubscriptionOut,
             summary="Keep the plan to the end of the paid period, then let it expire")
def stop_renewal(request, subscription_id: int):
    request.auth.require(Scope.WRITE)
    result, _ = write(request, "subscription.stop_renewal", {"subscription_id": subscription_id},
                      lambda: services.stop_renewal(business(request), subscription_id, actor=request.auth.actor),
                      status=200, object_type="subscription")
    return result


@router.get("/causes", response=list[CauseOut], summary="Causes members can donate points to, with totals")
def list_causes(request):
    request.auth.require(Scope.READ)
    tenant = business(request)
    totals = selectors.cause_totals(tenant)
    return [services.cause_json(cause, totals.get(cause.pk)) for cause in selectors.causes(tenant)]


@router.post("/causes", response={201: CauseOut}, summary="Define a cause (admin)")
def create_cause(request, payload: CauseIn):
    request.auth.require(Scope.ADMIN)
    result, _ = write(request, "cause.create", payload.model_dump(),
                      lambda: services.create_cause(business(request), code=payload.code, name=payload.name,
                                                    description=payload.description, goal=payload.goal),
                      status=201, object_type="cause", object_id="code")
    return Status(201, result)


@router.post("/members/{member_id}/donations", response={201: DonationOut},
             summary="Donate a member's points to a cause")
def donate(request, member_id: int, payload: DonationIn, response: HttpResponse):
    request.auth.require(Scope.WRITE)
    tenant = business(request)
    member = member_by_id(tenant, member_id)
    result = services.donate(tenant, member.pk, payload.cause, payload.points, actor=request.auth.actor,
                             idempotency_key=idempotency_key(request))
    return Status(201, _replayed(result, response))


@router.get("/partners", response=list[PartnerOut], summary="The partner network: businesses and consent")
def list_partners(request):
    request.auth.require(Scope.READ)
    return selectors.partners(business(request))


@router.post("/partners/{slug}", response=PartnerOut, summary="Offer a partnership or accept one (admin key, or the owner)",
             description="The network is in force when both businesses have consented.")
def consent(request, slug: str):
    request.auth.require(Scope.ADMIN, area="partners")
    result, _ = write(request, "partnership.consent", {"partner": slug},
                      lambda: services.consent_to_partner(business(request), slug), status=200,
                      object_type="partnership", object_id="partner")
    return result


@router.delete("/partners/{slug}", response=PartnerOut, summary="Withdraw from a partnership (admin key, or the owner)")
def withdraw(request, slug: str):
    request.auth.require(Scope.ADMIN, area="partners")
    result, _ = write(request, "partnership.end", {"partner": slug},
                      lambda: services.end_partnership(business(request), slug), status=200,
                      object_type="partnership", object_id="partner")
    return result


@router.get("/partners/{slug}/members", response=PartnerMemberOut,
            summary="Is this customer a member of our partner? (identity and tier only)")
def partner_member(request, slug: str, mobile: str = Query(..., max_length=32)):
    request.auth.require(Scope.READ)
    return selectors.partner_member(business(request), slug, mobile)
