"""The till's screens with Django's test client: find, sign up, preview, confirm, return, visit, card, today,
offline sync — and the branch rule (a cashier acts only at their branches)."""

import json

import pytest

from vafa.access.models import AuditEvent
from vafa.ledger.selectors import balances
from vafa.members.models import Card, Member
from vafa.members.services import CardIssue, issue_card
from vafa.purchases.models import Purchase, Visit
from vafa.till.models import SyncProblem

pytestmark = pytest.mark.django_db


def test_signed_out_goes_to_the_panel_login(client):
    response = client.get("/till/")
    assert response.status_code == 302 and response["Location"] == "/panel/login?next=/till/"


def test_a_cashier_of_one_branch_goes_straight_to_it(signed_in):
    response = signed_in("cashier", branch="t1").get("/till/")
    assert response.status_code == 302 and response["Location"] == "/till/t1/"


def test_an_owner_chooses_among_every_branch(signed_in):
    html = signed_in("owner").get("/till/").content.decode()
    assert "/till/t1/" in html and "/till/v2/" in html and 'dir="rtl"' in html


def test_find_by_mobile_in_persian_digits(signed_in, member):
    response = signed_in("cashier", branch="t1").get("/till/t1/", {"q": "۰۹۱۲ ۱۲۳ ۴۵۶۷"})
    assert response.status_code == 302 and response["Location"] == f"/till/t1/m/{member.pk}/"


def test_find_by_card_number_and_by_code(signed_in, business, member):
    card = issue_card(business, CardIssue.check(member.pk)).card
    client = signed_in("cashier", branch="t1")
    assert client.get("/till/t1/", {"q": card.number})["Location"] == f"/till/t1/m/{member.pk}/"
    assert client.get("/till/t1/", {"q": member.code.lower()})["Location"] == f"/till/t1/m/{member.pk}/"


def test_not_found_offers_quick_sign_up_with_the_mobile(signed_in, business):
    client = signed_in("cashier", branch="t1")
    response = client.get("/till/t1/", {"q": "۰۹۳۵۱۱۱۲۲۳۳"})
    assert response.status_code == 404 and 'value="09351112233"' in response.content.decode()
    response = client.post("/till/t1/signup", {"mobile": "09351112233", "first_name": "مریم"})
    member = Member.objects.get(business=business, mobile="+989351112233")
    assert response["Location"] == f"/till/t1/m/{member.pk}/" and member.join_source == "till:t1"


def test_member_panel_shows_balances_and_tier(signed_in, member, purchase_at):
    purchase_at(member, total=250_000)
    html = signed_in("cashier", branch="t1").get(f"/till/t1/m/{member.pk}/").content.decode()
    assert "علی رضایی" in html and "برنزی" in html and 'data-testid="balance-points">۲۰<' in html


def test_preview_writes_nothing_and_follows_the_amount(signed_in, member):
    client = signed_in("cashier", branch="t1")
    html = client.post(f"/till/t1/m/{member.pk}/preview", {"receipt": "A1", "total": "۳۰۰٬۰۰۰"}).content.decode()
    assert 'data-testid="earn-points">۳۰<' in html
    html = client.post(f"/till/t1/m/{member.pk}/preview", {"receipt": "A1", "total": "500000"}).content.decode()
    assert 'data-testid="earn-points">۵۰<' in html
    assert not Purchase.objects.exists()


def test_the_live_preview_writes_no_audit_row_and_the_purchase_does(signed_in, member):
    """The preview is a dry run (read scope, as the API's): no change, so no audit row (panel.post) either."""
    assert signed_in("analyst").post(f"/till/t1/m/{member.pk}/preview", {"total": "100000"}).status_code == 200
    client = signed_in("cashier", branch="t1")
    for total in ("1", "10", "100000"):  # one POST per keystroke
        assert client.post(f"/till/t1/m/{member.pk}/preview", {"total": total}).status_code == 200
    assert not AuditEvent.objects.exists()
    assert client.post(f"/till/t1/m/{member.pk}/purchase", {"total": "100000", "key": "k-a"}).status_code == 200
    assert list(AuditEvent.objects.values_list("operation", "channel")) == [("purchase", "till")]


def test_confirm_registers_once_per_key(signed_in, member):
    client = signed_in("cashier", branch="t1")
    data = {"receipt": "A1", "total": "۲۰۰۰۰۰", "key": "k-1"}
    first = client.post(f"/till/t1/m/{member.pk}/purchase", data)
    again = client.post(f"/till/t1/m/{member.pk}/purchase", data)
    assert first.status_code == 200 and again.status_code == 200
    assert Purchase.objects.filter(member=member).count() == 1
    assert balances(member)["points"]["available"] == 20
    assert 'data-testid="balance-points">۲۰<' in first.content.decode()


def test_three_actions_without_a_receipt_number(signed_in, member):
    client = signed_in("cashier", branch="t1")
    page = client.get(f"/till/t1/m/{member.pk}/").content.decode()
    key = page.split('name="key" value="')[1].split('"')[0]
    for _ in range(2):  # a second Enter on the same form
        assert client.post(f"/till/t1/m/{member.pk}/purchase", {"total": "۱۵۰۰۰۰", "key": key}).status_code == 200
    purchase = Purchase.objects.get(member=member)
    assert purchase.receipt == f"T-{key[:16]}" and purchase.total == 150_000


def test_spending_more_points_than_held_is_an_error_beside_the_form(signed_in, member):
    response = signed_in("cashier", branch="t1").post(f"/till/t1/m/{member.pk}/purchase",
                                                      {"receipt": "A1", "total": "200000", "redeem_points": "500"})
    assert response.status_code == 422 and not Purchase.objects.exists()


def test_return_preview_then_confirm(signed_in, member, purchase_at):
    purchase = purchase_at(member, total=300_000)
    client = signed_in("cashier", branch="t1")
    preview = client.post(f"/till/t1/p/{purchase['id']}/return", {"kind": "return", "amount": "۱۰۰۰۰۰"})
    assert preview.status_code == 200 and 'data-testid="return-preview"' in preview.content.decode()
    assert Purchase.objects.get(pk=purchase["id"]).returned_amount == 0
    done = client.post(f"/till/t1/p/{purchase['id']}/return", {"kind": "return", "amount": "100000", "step": "confirm"})
    assert done.status_code == 302 and Purchase.objects.get(pk=purchase["id"]).returned_amount == 100_000
    assert balances(member)["points"]["available"] == 20


def test_visit_and_card_replacement(signed_in, business, member):
    card = issue_card(business, CardIssue.check(member.pk)).card
    client = signed_in("cashier", branch="t1")
    client.post(f"/till/t1/m/{member.pk}/visit")
    assert Visit.objects.filter(member=member, branch__code="t1").count() == 1
    client.post(f"/till/t1/m/{member.pk}/card", {"number": card.number})
    card.refresh_from_db()
    assert card.status == Card.Status.REPLACED and member.cards.filter(status="active").count() == 1


def test_today_at_the_branch(signed_in, member, purchase_at):
    client = signed_in("cashier", branch="t1")
    client.post(f"/till/t1/m/{member.pk}/purchase", {"receipt": "A1", "total": "200000", "key": "k"})
    purchase_at(member, branch="v2", total=900_000)  # another branch: not counted
    html = client.get("/till/t1/today").content.decode()
    assert 'data-testid="today-count">۱<' in html and "cashier-t1" in html


@pytest.mark.parametrize("path,method", [("/till/v2/", "get"), ("/till/v2/today", "get"),
                                         ("/till/v2/m/{m}/", "get"), ("/till/v2/m/{m}/purchase", "post"),
                                         ("/till/v2/m/{m}/preview", "post"), ("/till/v2/sync", "post"),
                                         ("/till/v2/cache.json", "get")])
def test_a_cashier_of_branch_a_cannot_act_at_branch_b(signed_in, member, path, method):
    client = signed_in("cashier", branch="t1")
    response = getattr(client, method)(path.format(m=member.pk), {"receipt": "B1", "total": "100000"})
    assert response.status_code == 403
    assert not Purchase.objects.exists()


def test_a_return_at_another_branchs_purchase_is_not_found(signed_in, member, purchase_at):
    purchase = purchase_at(member, branch="v2")
    client = signed_in("cashier", branch="t1")
    assert client.get(f"/till/t1/p/{purchase['id']}/return").status_code == 404


def _sync(client, **body):
    return client.post("/till/t1/sync", json.dumps(body), content_type="application/json").json()


def test_offline_sync_is_exactly_once_and_a_refusal_is_kept(signed_in, business, member):
    client = signed_in("cashier", branch="t1")
    body = {"key": "off-1", "member_id": member.pk, "receipt": "OFF1", "total": 200_000,
            "occurred_at": "2026-11-29T10:00:00+03:30"}
    assert _sync(client, **body)["status"] == "sent"
    assert _sync(client, **body)["status"] == "sent"  # a resend after a reload: the same purchase
    assert Purchase.objects.filter(receipt="OFF1").count() == 1
    refused = _sync(client, **(body | {"key": "off-2", "total": 300_000}))  # the receipt is taken
    assert refused["status"] == "problem"
    problem = SyncProblem.objects.get(business=business)
    assert problem.payload["receipt"] == "OFF1" and problem.code == "receipt_exists" and problem.member == member
    assert _sync(client, **(body | {"key": "off-2", "total": 300_000}))["status"] == "problem"
    assert SyncProblem.objects.count() == 1
    html = client.get("/till/t1/problems").content.decode()
    assert "OFF1" in html and "علی رضایی" in html


def test_offline_cache_lists_recent_members_and_earning(signed_in, business, member, purchase_at):
    purchase_at(member)
    data = signed_in("cashier", branch="t1").get("/till/t1/cache.json").json()
    assert [m["id"] for m in data["members"]] == [member.pk]
    assert data["earn"] == [{"per": 100_000, "award": 10}] and data["multipliers"]["silver"] == 2.0


def test_manifest_and_service_worker(client):
    manifest = client.get("/till/manifest.webmanifest").json()
    assert manifest["scope"] == "/till/" and manifest["start_url"] == "/till/"
    worker = client.get("/till/sw.js")
    assert worker["Service-Worker-Allowed"] == "/till/" and worker["Content-Type"] == "text/javascript"


def test_another_business_member_is_not_found(signed_in, other_business):
    from vafa.members.services import sign_up

    theirs = sign_up(other_business, mobile="09351230003")
    client = signed_in("owner")
    assert client.get(f"/till/t1/m/{theirs.pk}/").status_code == 404
    assert client.post(f"/till/t1/m/{theirs.pk}/purchase", {"total": "100000", "key": "x"}).status_code == 404
    assert client.get("/till/main/").status_code == 404  # their branch code is not ours
    assert not Purchase.objects.exists()


def test_the_tier_perks_guide_the_cashier(signed_in, program, member):
    from tests.conftest import PROGRAM

    levels = [dict(level) for level in PROGRAM["tiers"]["levels"]]
    levels[0]["perks"] = [{"fa": "چای رایگان پیشنهاد بدهید", "en": "Offer free tea"}]
    program(PROGRAM | {"tiers": PROGRAM["tiers"] | {"levels": levels}})
    html = signed_in("cashier", branch="t1").get(f"/till/t1/m/{member.pk}/").content.decode()
    assert "چای رایگان پیشنهاد بدهید" in html and "تا نقره‌ای" in html
