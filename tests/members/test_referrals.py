import pytest
from django.test import Client
from tests.conftest import PROGRAM

from vafa.access.services import create_api_key, create_operator, principal_for_operator
from vafa.core.errors import InvalidInput
from vafa.ledger.check import check_ledger
from vafa.ledger.selectors import balances
from vafa.members.models import Commission, Member
from vafa.members.services import sign_up
from vafa.purchases.services import cancel_purchase, record_purchase

REFERRAL = PROGRAM | {"referral": {"on": ["signup", "first_purchase"],
                                   "referrer": {"currency": "points", "amount": 100},
                                   "referee": {"currency": "gift_credit", "amount": 50_000, "expiry_days": 30},
                                   "operator_commission": 20_000}}


def test_rewards_on_sign_up_and_on_the_first_purchase_only(business, member, program):
    program(REFERRAL)
    friend = sign_up(business, mobile="09350000001", referral_code=member.code.lower())
    assert friend.referred_by_id == member.pk
    assert balances(member)["points"]["available"] == 100
    assert balances(friend)["gift_credit"]["available"] == 50_000
    first = record_purchase(business, member_id=friend.pk, branch_code="t1", receipt="F1", total=100_000)
    record_purchase(business, member_id=friend.pk, branch_code="t1", receipt="F2", total=100_000)
    assert balances(member)["points"]["available"] == 200  # the first purchase only
    cancel_purchase(business, first["purchase_id"])
    record_purchase(business, member_id=friend.pk, branch_code="t1", receipt="F3", total=100_000)
    assert balances(member)["points"]["available"] == 200  # rewarded once, even if the first is cancelled
    assert check_ledger() == []


def test_self_referral_and_unknown_codes_are_refused(business, member):
    with pytest.raises(InvalidInput) as info:
        sign_up(business, mobile="0935 000 0002", referral_code="NOSUCH1")
    assert info.value.errors == [{"field": "referral_code", "message": "unknown_referral_code"}]
    assert not Member.objects.filter(mobile="+989350000002").exists()


def test_operator_commission_and_reports(business, program):
    program(REFERRAL)
    operator = create_operator(business, username="cashier1", password="long-password-1", role="cashier",
                               branches=[business.branches.get(code="t1")])
    actor = principal_for_operator(operator).actor
    sign_up(business, mobile="09350000003", actor=actor, join_source="instagram")
    sign_up(business, mobile="09350000004", actor=actor, join_source="instagram")
    sign_up(business, mobile="09350000005")
    assert Commission.objects.filter(operator_id=str(operator.pk)).count() == 2
    _, key = create_api_key(business, scope="read")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/reports/commissions").json() == [
        {"operator_id": str(operator.pk), "operator": "cashier1", "members": 2, "amount": 40_000}]
    assert client.get("/api/v1/reports/sign-ups").json() == [{"source": "instagram", "members": 2},
                                                             {"source": "", "members": 1}]


def test_referral_link_qr_and_the_join_page(business, member):
    _, key = create_api_key(business, scope="read")
    body = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(f"/api/v1/members/{member.pk}/referral").json()
    assert body["link"].endswith(f"/join/cafe/?ref={member.code}&source=referral")
    assert body["qr_svg"].lstrip().startswith("<?xml") or "<svg" in body["qr_svg"]
    page = Client()
    form = page.get(f"/join/cafe/?ref={member.code}&source=instagram")
    assert form.status_code == 200 and member.code in form.content.decode()
    joined = page.post(f"/join/cafe/?ref={member.code}", {"mobile": "09350000009", "first_name": "<b>سارا</b>",
                                                         "ref": member.code, "source": "instagram"})
    assert joined.status_code == 200
    new = Member.objects.get(mobile="+989350000009")
    assert (new.referred_by_id, new.join_source) == (member.pk, "instagram")
    again = page.post("/join/cafe/", {"mobile": "09350000009", "first_name": "<script>x</script>"})
    assert "<script>x" not in again.content.decode()  # user text is escaped
