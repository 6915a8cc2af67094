"""Register my purchase (F10): a claim matching a reported receipt earns at once; others wait for review in
the back office; the fraud controls refuse or flag with a clear reason."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from tests.conftest import PROGRAM

from vafa.core.errors import Conflict, InvalidInput
from vafa.ledger.selectors import balances
from vafa.portal.models import PurchaseClaim
from vafa.portal.services import approve_claim, claim_purchase, reject_claim, report_receipt
from vafa.purchases.models import Purchase

TEHRAN = ZoneInfo("Asia/Tehran")


def today():
    return timezone.now().astimezone(TEHRAN).date()


def claim(business, member, receipt="A-1", amount=250_000, day=None, branch="t1", **kw):
    return claim_purchase(business, member.pk, branch_code=branch, receipt=receipt, amount=amount,
                          purchased_on=(day or today()).isoformat(), **kw)


def points(member) -> int:
    return balances(member)["points"]["available"]


def earned_by_till(business, make_member, total=250_000) -> int:
    from vafa.purchases.services import record_purchase

    twin = make_member()
    record_purchase(business, member_id=twin.pk, branch_code="v2", receipt="TWIN", total=total)
    return points(twin)


def test_a_claim_matching_a_reported_receipt_earns_at_once(business, member, make_member):
    report_receipt(business, branch_code="t1", receipt="A-1", total=250_000, occurred_at=timezone.now())
    made = claim(business, member)
    assert made.status == "accepted" and made.purchase.member_id == member.pk
    assert made.purchase.total == 250_000 and made.purchase.receipt == "A-1"
    assert points(member) == earned_by_till(business, make_member) > 0


def test_a_reported_receipt_agrees_within_the_tolerance(business, member, program):
    program(PROGRAM | {"settings": {"claims": {"amount_tolerance": 1000}}})
    report_receipt(business, branch_code="t1", receipt="A-1", total=250_000, occurred_at=timezone.now())
    assert claim(business, member, amount=250_900).status == "accepted"


def test_a_claim_without_a_reported_receipt_waits_then_approved_earns(business, member, make_member):
    made = claim(business, member)
    assert made.status == "pending" and made.flags == [] and points(member) == 0
    approved = approve_claim(business, made.pk)
    assert approved.status == "approved" and approved.purchase.total == 250_000
    assert points(member) == earned_by_till(business, make_member)
    with pytest.raises(Conflict, match="claim_already_decided"):
        approve_claim(business, made.pk)


def test_a_disagreeing_receipt_is_flagged_for_review(business, member):
    report_receipt(business, branch_code="t1", receipt="A-1", total=100_000, occurred_at=timezone.now())
    made = claim(business, member)
    assert made.status == "pending" and made.flags == ["claim_does_not_match_receipt"]


def test_a_rejected_claim_keeps_its_reason_and_earns_nothing(business, member):
    made = claim(business, member)
    with pytest.raises(InvalidInput):
        reject_claim(business, made.pk, reason=" ")
    rejected = reject_claim(business, made.pk, reason="رسید پیدا نشد")
    assert rejected.status == "rejected" and rejected.reason == "رسید پیدا نشد"
    assert points(member) == 0 and not Purchase.objects.filter(business=business).exists()


def test_the_same_receipt_claimed_by_two_members_is_refused(business, member, make_member):
    claim(business, member)
    with pytest.raises(Conflict, match="receipt_claimed_by_another"):
        claim(business, make_member())
    with pytest.raises(Conflict, match="receipt_already_yours"):
        claim(business, member)


def test_a_receipt_the_till_recorded_cannot_be_claimed(business, member, make_member):
    from vafa.purchases.services import record_purchase

    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="T-9", total=50_000)
    with pytest.raises(Conflict, match="receipt_claimed_by_another"):
        claim(business, make_member(), receipt="T-9")


def test_more_than_n_claims_a_day_are_refused(business, member, program):
    program(PROGRAM | {"settings": {"claims": {"per_day": 2}}})
    claim(business, member, receipt="1")
    claim(business, member, receipt="2")
    with pytest.raises(Conflict, match="too_many_claims_today"):
        claim(business, member, receipt="3")
    assert PurchaseClaim.objects.filter(business=business).count() == 2


def test_an_amount_above_the_limit_waits_even_when_it_matches(business, member, program):
    program(PROGRAM | {"settings": {"claims": {"max_amount": 200_000}}})
    report_receipt(business, branch_code="t1", receipt="A-1", total=250_000, occurred_at=timezone.now())
    made = claim(business, member)
    assert made.status == "pending" and made.flags == ["claim_amount_above_limit"] and points(member) == 0


def test_a_purchase_older_than_d_days_is_refused(business, member, program):
    program(PROGRAM | {"settings": {"claims": {"max_age_days": 3}}})
    assert claim(business, member, receipt="1", day=today() - dt.timedelta(days=3)).status == "pending"
    with pytest.raises(InvalidInput) as refused:
        claim(business, member, receipt="2", day=today() - dt.timedelta(days=4))
    assert refused.value.errors == [{"field": "purchased_on", "message": "claim_too_old"}]


def test_bad_input_writes_nothing(business, member, other_business):
    with pytest.raises(InvalidInput) as refused:
        claim_purchase(business, member.pk, branch_code="main", receipt="", amount=-5,
                       purchased_on=(today() + dt.timedelta(days=1)).isoformat(), photo=b"x" * (2 * 1024 * 1024 + 1))
    assert {e["field"] for e in refused.value.errors} == {"branch", "receipt", "amount", "purchased_on", "photo"}
    assert not PurchaseClaim.objects.exists()


def test_the_member_registers_a_receipt_in_the_portal(member_client, business, member):
    report_receipt(business, branch_code="t1", receipt="A-1", total=250_000, occurred_at=timezone.now())
    page = member_client.get("/m/cafe/receipts/").content.decode()
    assert 'name="receipt"' in page and 'value="t1"' in page and "data-jdp" in page
    from vafa.core.calendar import format_date

    day = format_date(today(), "jalali", "fa")
    response = member_client.post("/m/cafe/receipts/", {"receipt": "A-1", "branch": "t1", "amount": "۲۵۰٬۰۰۰",
                                                        "purchased_on": day})
    assert response.status_code == 302
    assert "پذیرفته شد" in member_client.get("/m/cafe/receipts/").content.decode()
    assert points(member) > 0


def test_a_refused_claim_shows_its_reason(member_client, business, member, make_member):
    claim(business, make_member(), receipt="A-1")
    response = member_client.post("/m/cafe/receipts/", {"receipt": "A-1", "branch": "t1", "amount": "250000",
                                                        "purchased_on": today().isoformat()})
    assert response.status_code == 400 and "این رسید قبلاً برای عضو دیگری ثبت شده است" in response.content.decode()


def test_a_photo_too_large_is_refused(member_client, business, member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("r.jpg", b"x" * (2 * 1024 * 1024 + 1), content_type="image/jpeg")
    response = member_client.post("/m/cafe/receipts/", {"receipt": "A-1", "branch": "t1", "amount": "250000",
                                                        "purchased_on": today().isoformat(), "photo": photo})
    assert response.status_code == 400 and not PurchaseClaim.objects.exists()


def test_a_member_sees_only_their_own_claims(member_client, business, member, make_member):
    claim(business, make_member(), receipt="OTHER-7")
    assert "OTHER-7" not in member_client.get("/m/cafe/receipts/").content.decode()


def test_the_back_office_approves_and_rejects(signed_in, business, member):
    first, second = claim(business, member, receipt="1"), claim(business, member, receipt="2")
    client = signed_in("manager")
    page = client.get("/panel/claims/").content.decode()
    assert page.count('data-testid="claim"') == 2
    assert client.post(f"/panel/claims/{first.pk}/approve").status_code == 302
    assert client.post(f"/panel/claims/{second.pk}/reject", {"reason": "رسید ناخوانا"}).status_code == 302
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status, second.reason) == ("approved", "rejected", "رسید ناخوانا")
    assert points(member) > 0


def test_a_cashier_decides_only_their_branch_claims(signed_in, business, member):
    elsewhere = claim(business, member, receipt="1", branch="v2")
    client = signed_in("cashier", branch="t1")
    assert 'data-testid="claim"' not in client.get("/panel/claims/").content.decode()
    assert client.post(f"/panel/claims/{elsewhere.pk}/approve").status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == "pending"


def test_an_analyst_cannot_decide(signed_in, business, member):
    made = claim(business, member)
    assert signed_in("analyst").post(f"/panel/claims/{made.pk}/approve").status_code == 403
    made.refresh_from_db()
    assert made.status == "pending"


def test_a_photo_is_kept_only_when_it_is_an_image(business, member):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    assert claim(business, member, receipt="1", photo=png).photo_type == "image/png"
    with pytest.raises(InvalidInput) as refused:
        claim(business, member, receipt="2", photo=b"<svg onload=alert(1)>")
    assert refused.value.errors == [{"field": "photo", "message": "photo_not_an_image"}]


def test_the_back_office_shows_a_claim_photo_of_its_business_only(signed_in, business, member):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    made = claim(business, member, photo=png)
    answer = signed_in("manager").get(f"/panel/claims/{made.pk}/photo")
    assert answer.status_code == 200 and answer.content == png and answer["Content-Type"] == "image/png"


def test_the_point_of_sale_reports_a_receipt_through_the_api(business, member):
    from tests.api.conftest import ApiClient, _key

    till = ApiClient(_key(business, "write"))
    body = {"branch": "t1", "receipt": "POS-1", "total": 250_000, "occurred_at": timezone.now().isoformat()}
    first = till.post("/receipts", body)
    assert first.status_code == 201 and first.json()["claimed"] is False
    assert till.post("/receipts", body).status_code == 200
    assert till.post("/receipts", body | {"total": 1}).status_code == 409
    assert till.post("/receipts", body | {"branch": "nope"}).status_code == 422
    assert claim(business, member, receipt="POS-1").status == "accepted"
    assert till.post("/receipts", body).json()["claimed"] is True
