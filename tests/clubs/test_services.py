"""Club types: the closed club's admission, paid plans with renewal and expiry, causes, the partner network."""

import datetime as dt

import pytest

from vafa.access.permissions import Forbidden
from vafa.clubs import selectors, services
from vafa.clubs.models import Subscription
from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from vafa.ledger.check import check_ledger
from vafa.ledger.selectors import balances
from vafa.members.balances import adjust
from vafa.members.models import Member
from vafa.members.services import sign_up
from vafa.outbox.models import OutboxEvent
from vafa.purchases.activities import check_in
from vafa.purchases.services import record_purchase

AT = dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)  # 1404/03/11, 11:30 in Tehran


def buy(business, member, receipt, total, at=AT, **kw):
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=total,
                           occurred_at=at, **kw)


def events(kind):
    return list(OutboxEvent.objects.filter(event_type=kind).values_list("payload", flat=True))


def fund_wallet(business, member, amount):
    adjust(business, member.pk, "wallet", amount, reason="top-up")


# --- closed club -----------------------------------------------------------------------------------------------


def test_a_closed_club_admits_after_the_spend_threshold_and_counts_the_purchases_before(business, closed_club):
    customer = sign_up(business, mobile="09120000001")
    assert customer.status == Member.Status.CANDIDATE and customer.admitted_at is None
    first = buy(business, customer, "r1", 600_000)
    assert [e for e in first["effects"] if e["kind"] == "earn"] == []  # nothing earned as a candidate
    assert first["club"]["member_status"] == "candidate"
    assert (first["club"]["progress"], first["club"]["threshold"]) == (600_000, 1_000_000)
    assert "1,000,000" in first["club"]["reason"] or "۱٬۰۰۰٬۰۰۰" in first["club"]["reason"]
    assert balances(customer)["points"]["available"] == 0
    second = buy(business, customer, "r2", 400_000, at=AT + dt.timedelta(hours=1))  # 600,000 + 400,000: inclusive
    customer.refresh_from_db()
    assert customer.status == Member.Status.ACTIVE and customer.admitted_at == AT + dt.timedelta(hours=1)
    assert second["club"]["member_status"] == "active"
    assert [(e["kind"], e["amount"]) for e in second["effects"]] == [("earn", 40)]  # the admitting purchase earns
    assert events("member.admitted") == [{"member_id": customer.pk, "how": "threshold"}]
    third = buy(business, customer, "r3", 100_000, at=AT + dt.timedelta(hours=2))
    assert "club" not in third
    assert check_ledger() == []


def test_a_closed_club_by_visits(business, program):
    program({"rules": [{"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5}],
             "club": {"kind": "closed", "entry": {"basis": "visits", "threshold": 2}}})
    customer = sign_up(business, mobile="09120000002")
    first = check_in(business, member_id=customer.pk, occurred_at=AT)
    assert first["effects"] == [] and first["club"]["progress"] == 1
    second = check_in(business, member_id=customer.pk, occurred_at=AT + dt.timedelta(days=1))
    assert [e["amount"] for e in second["effects"]] == [5]
    customer.refresh_from_db()
    assert customer.status == Member.Status.ACTIVE


def test_opening_the_club_admits_candidates_at_their_next_purchase(business, closed_club, program):
    customer = sign_up(business, mobile="09120000003")
    program({"rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10}]})  # open again
    result = buy(business, customer, "r1", 200_000)
    customer.refresh_from_db()
    assert customer.status == Member.Status.ACTIVE and [e["amount"] for e in result["effects"]] == [20]
    assert events("member.admitted") == [{"member_id": customer.pk, "how": "open_club"}]


def test_the_closed_club_document_needs_an_entry(business, program):
    with pytest.raises(InvalidInput):
        program({"club": {"kind": "closed"}})


# --- paid plans -----------------------------------------------------------------------------------------------


def test_a_plan_paid_from_the_wallet_doubles_points_and_gives_its_discount(business, member, with_plans):
    fund_wallet(business, member, 600_000)
    result = services.subscribe(business, member.pk, "vip", at=AT)
    assert (result["plan"], result["price"], result["payment"]) == ("vip", 500_000, "wallet")
    assert result["balance"]["wallet"]["available"] == 100_000
    # one Jalali month later: 1404/03/11 → 1404/04/11, at the same time of day in Tehran
    assert result["ends_at"] == "2025-07-02T08:00:00+00:00"
    member.refresh_from_db()
    assert (member.plan, member.plan_at(AT + dt.timedelta(days=5))) == ("vip", "vip")
    purchase = buy(business, member, "r1", 1_000_000, at=AT + dt.timedelta(days=1))
    # the plan's 10 % off; 90 points on 900,000 (×2 VIP) = 180
    assert [(e["kind"], e["rule_id"], e["amount"]) for e in purchase["effects"]] == [
        ("discount", "plan:vip", 100_000), ("earn", "base", 180)]
    assert check_ledger() == []


def test_the_plans_discount_and_the_tier_discount_do_not_add_up(business, member, program):
    from tests.clubs.conftest import VIP
    from tests.conftest import PROGRAM

    from vafa.core.actor import SYSTEM
    from vafa.purchases.services import change_tier

    program(PROGRAM | {"plans": [VIP | {"discount_percent": 3}]})
    change_tier(member, "gold", 0, "test", AT, SYSTEM)  # gold: 5 %
    services.subscribe(business, member.pk, "vip", payment="external", at=AT)
    purchase = buy(business, member, "r1", 1_000_000, at=AT + dt.timedelta(days=1))
    assert [(e["rule_id"], e["amount"]) for e in purchase["effects"] if e["kind"] == "discount"] == [
        ("tier:gold", 50_000)]  # only the best order-wide percentage


def test_without_enough_wallet_credit_nothing_is_written(business, member, with_plans):
    fund_wallet(business, member, 499_999)
    with pytest.raises(InsufficientBalance):
        services.subscribe(business, member.pk, "vip", at=AT)
    assert not Subscription.objects.exists()
    member.refresh_from_db()
    assert member.plan == "" and balances(member)["wallet"]["available"] == 499_999


def test_bad_plan_requests(business, member, with_plans):
    with pytest.raises(InvalidInput) as unknown:
        services.subscribe(business, member.pk, "gold-plus", at=AT)
    assert unknown.value.errors == [{"field": "plan", "message": "unknown_plan"}]
    with pytest.raises(InvalidInput):
        services.subscribe(business, member.pk, "vip", payment="cash", at=AT)
    services.subscribe(business, member.pk, "vip", payment="external", at=AT)
    with pytest.raises(Conflict):  # another plan while this one runs
        services.subscribe(business, member.pk, "year", payment="external", at=AT)


def test_renewing_adds_a_period_from_the_end(business, member, with_plans):
    services.subscribe(business, member.pk, "vip", payment="external", at=AT)
    again = services.subscribe(business, member.pk, "vip", payment="external", at=AT + dt.timedelta(days=3))
    assert (again["starts_at"], again["ends_at"]) == ("2025-07-02T08:00:00+00:00", "2025-08-02T08:00:00+00:00")
    member.refresh_from_db()
    assert member.plan_expires_at == dt.datetime(2025, 8, 2, 8, 0, tzinfo=dt.UTC)


def test_the_job_renews_from_the_wallet_reminds_and_expires(business, member, make_member, with_plans):
    fund_wallet(business, member, 1_000_000)
    services.subscribe(business, member.pk, "vip", at=AT)
    other = make_member()
    services.subscribe(business, other.pk, "vip", payment="external", at=AT)
    # 7 days before the end: both are reminded, once
    week_before = dt.datetime(2025, 6, 26, 8, 0, tzinfo=dt.UTC)
    assert services.renew_plans(week_before)["reminded"] == 2
    assert services.renew_plans(week_before)["reminded"] == 0
    end = dt.datetime(2025, 7, 2, 8, 0, tzinfo=dt.UTC)
    done = services.renew_plans(end)
    assert (done["renewed"], done["expired"]) == (1, 1)  # the wallet pays again; a plan paid at the till ends
    assert services.renew_plans(end) == {"renewed": 0, "expired": 0, "reminded": 0}
    member.refresh_from_db()
    other.refresh_from_db()
    assert member.plan == "vip" and member.plan_expires_at == dt.datetime(2025, 8, 2, 8, 0, tzinfo=dt.UTC)
    assert balances(member)["wallet"]["available"] == 0
    assert other.plan == "" and other.plan_at(end) is None
    assert [p["member_id"] for p in events("plan.expired")] == [other.pk]
    # the next month the wallet is empty: the plan expires
    assert services.renew_plans(dt.datetime(2025, 8, 2, 8, 0, tzinfo=dt.UTC))["expired"] == 1
    member.refresh_from_db()
    assert member.plan == ""
    assert check_ledger() == []


def test_stopping_renewal_keeps_the_plan_to_the_end(business, member, with_plans):
    fund_wallet(business, member, 1_000_000)
    subscription = services.subscribe(business, member.pk, "vip", at=AT)
    stopped = services.stop_renewal(business, subscription["id"])
    assert stopped["auto_renew"] is False
    member.refresh_from_db()
    assert member.plan_at(AT + dt.timedelta(days=20)) == "vip"
    assert services.renew_plans(dt.datetime(2025, 7, 2, 8, 0, tzinfo=dt.UTC))["expired"] == 1
    assert balances(member)["wallet"]["available"] == 500_000
    with pytest.raises(NotFound):
        services.stop_renewal(business, 10**9)


def test_paying_for_a_plan_admits_a_candidate(business, program):
    from tests.clubs.conftest import VIP
    from tests.conftest import PROGRAM

    program(PROGRAM | {"plans": [VIP], "club": {"kind": "closed", "entry": {"basis": "purchases", "threshold": 5}}})
    customer = sign_up(business, mobile="09120000009")
    services.subscribe(business, customer.pk, "vip", payment="external", at=AT)
    customer.refresh_from_db()
    assert customer.status == Member.Status.ACTIVE


def test_a_replayed_subscription_charges_once(business, member, with_plans):
    fund_wallet(business, member, 1_000_000)
    first = services.subscribe(business, member.pk, "vip", at=AT, idempotency_key="k1")
    again = services.subscribe(business, member.pk, "vip", at=AT, idempotency_key="k1")
    assert again["replayed"] and again["id"] == first["id"]
    assert Subscription.objects.count() == 1 and balances(member)["wallet"]["available"] == 500_000


# --- causes -----------------------------------------------------------------------------------------------------


def test_donations_leave_the_balance_and_are_totalled(business, member, make_member):
    services.create_cause(business, code="trees", name="کاشت درخت", goal=10_000)
    services.create_cause(business, code="books", name="کتاب برای مدرسه")
    adjust(business, member.pk, "points", 500, reason="test")
    other = make_member()
    adjust(business, other.pk, "points", 100, reason="test")
    result = services.donate(business, member.pk, "trees", 300)
    assert result["balance"]["points"]["available"] == 200
    assert "کاشت درخت" in result["reason"]
    services.donate(business, member.pk, "trees", 100)
    services.donate(business, other.pk, "TREES", 100)
    with pytest.raises(InsufficientBalance):
        services.donate(business, other.pk, "trees", 1)
    totals = selectors.cause_totals(business)
    by_code = {c.code: totals.get(c.pk, {}) for c in selectors.causes(business)}
    assert by_code == {"books": {}, "trees": {"points": 500, "donors": 2}}
    assert check_ledger() == []


def test_bad_causes_and_donations(business, member):
    with pytest.raises(InvalidInput) as bad:
        services.create_cause(business, code="Bad Code!", name="", goal=0)
    assert {e["field"] for e in bad.value.errors} == {"code", "name", "goal"}
    services.create_cause(business, code="trees", name="Trees")
    with pytest.raises(Conflict):
        services.create_cause(business, code="trees", name="Again")
    with pytest.raises(NotFound):
        services.donate(business, member.pk, "unknown", 10)
    with pytest.raises(InvalidInput):
        services.donate(business, member.pk, "trees", 0)


# --- partner network ----------------------------------------------------------------------------------------------


def test_a_partnership_needs_both_sides_and_shares_identity_only(business, member, other_business):
    from vafa.members.services import sign_up as join

    join(other_business, mobile="09127777777")
    with pytest.raises(Forbidden):
        selectors.partner_member(business, "other", "09127777777")
    assert services.consent_to_partner(business, "other")["state"] == "offered"
    assert selectors.partners(other_business) == [{"partner": "cafe", "name": "کافه وفا", "state": "invited"}]
    with pytest.raises(Forbidden):  # one side's consent is not enough
        selectors.partner_member(business, "other", "09127777777")
    assert services.consent_to_partner(other_business, "cafe")["state"] == "active"
    found = selectors.partner_member(business, "other", "09127777777")
    assert (found["partner"], found["member"], found["tier"]) == ("other", True, "bronze")
    assert set(found) == {"partner", "member", "tier", "member_since"}  # never balances
    assert selectors.partner_member(other_business, "cafe", "09121234567")["member"] is True
    assert selectors.partner_member(business, "other", "09127777000")["member"] is False
    services.end_partnership(other_business, "cafe")
    with pytest.raises(Forbidden):
        selectors.partner_member(business, "other", "09127777777")
    with pytest.raises(NotFound):
        services.consent_to_partner(business, "cafe")  # not with itself
