"""The till's second round (issue 16): the portal's QR payload finds the member, gift credit and a gift card on
the purchase form, the SMS receipt through the messaging app, the offline wallet allowance checked again on
sync, the back office's sync problems list, and the business's contact in settings and in the portal."""

import json

import pytest
from tests.messaging.conftest import sent_lines
from tests.messaging.test_events import run_worker

from vafa.core.actor import Actor
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.selectors import balances
from vafa.members.balances import adjust, grant_gift_credit
from vafa.members.services import CardIssue, issue_card
from vafa.messaging.models import Message
from vafa.messaging.services import update_settings
from vafa.portal import selectors as portal
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch
from vafa.tenancy.services import update_business
from vafa.till.models import SyncProblem
from vafa.till.services import sync_offline_purchase

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_messages_file(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.mark.parametrize("with_card", [True, False])
def test_the_portals_qr_payload_finds_the_member(signed_in, business, member, with_card):
    """The portal's QR holds the member's card number, or the member code without a card: both find them."""
    if with_card:
        issue_card(business, CardIssue.check(member.pk))
    payload = portal.home(member)["card_number"]  # what the portal's QR encodes (selectors.qr_svg of it)
    response = signed_in("cashier", branch="t1").get("/till/t1/", {"q": payload})
    assert response.status_code == 302 and response["Location"] == f"/till/t1/m/{member.pk}/"


def test_the_find_page_loads_the_scanner_under_the_csp(signed_in):
    response = signed_in("cashier", branch="t1").get("/till/t1/")
    html = response.content.decode()
    assert "/static/vendor/jsqr/dist/jsQR.js" in html and 'data-testid="scan"' in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp


def _purchase(client, member, **fields):
    body = {"key": "k-" + "-".join(f"{k}{v}" for k, v in fields.items()), "total": "", "receipt": "", "lines": "",
            "codes": ""} | fields
    return client.post(f"/till/t1/m/{member.pk}/purchase", body)


def test_gift_credit_and_a_gift_card_in_the_preview_and_the_purchase(signed_in, business, member):
    grant_gift_credit(business, amount=30_000, reason="هدیه", member_ids=[member.pk])
    card = issue_gift_card(business, amount=100_000)
    client = signed_in("cashier", branch="t1")
    fields = {"total": "۲۰۰٬۰۰۰", "redeem_gift_credit": "۳۰۰۰۰", "gift_card_code": card.code,
              "gift_card_amount": "50000"}
    preview = client.post(f"/till/t1/m/{member.pk}/preview", fields | {"key": "p"}).content.decode()
    assert 'data-testid="gift-credit-spent"' in preview and 'data-testid="gift-card-spent"' in preview
    assert "۱۲۰٬۰۰۰" in preview  # 200,000 − 30,000 − 50,000 to pay
    assert not Purchase.objects.exists()
    done = _purchase(client, member, **fields)
    assert done.status_code == 200 and 'data-testid="done"' in done.content.decode()
    purchase = Purchase.objects.get()
    assert balances(member)["gift_credit"]["available"] == 0
    card.refresh_from_db()
    assert card.balance == 50_000 and purchase.total == 200_000


def test_a_gift_card_needs_its_amount_and_an_unknown_card_is_refused(signed_in, member):
    client = signed_in("cashier", branch="t1")
    answer = _purchase(client, member, total="100000", gift_card_code="NOPE-NOPE")
    assert answer.status_code == 422 and not Purchase.objects.exists()
    answer = _purchase(client, member, total="100000", gift_card_code="NOPE-NOPE", gift_card_amount="1000")
    assert answer.status_code == 422 and not Purchase.objects.exists()


def test_a_till_purchase_sends_its_sms_receipt_through_the_messaging_app(signed_in, business, member):
    update_settings(business, sms_provider="file", price_per_part=1000)
    done = _purchase(signed_in("cashier", branch="t1"), member, total="500000", receipt="R-SMS")
    assert 'data-testid="sms-receipt"' in done.content.decode()
    run_worker()  # the outbox handler folds the purchase's events into one message, the sender writes it
    lines = sent_lines("balance_update")
    assert len(lines) == 1 and lines[0]["member_id"] == member.pk and lines[0]["to"] == member.mobile
    assert "۵۰ امتیاز" in lines[0]["text"]
    row = Message.objects.get(pk=lines[0]["message_id"])  # the message table holds it, delivered
    assert (row.kind, row.member_id, row.state) == ("balance_update", member.pk, "delivered")


def test_no_sms_receipt_is_promised_without_an_sms_provider(signed_in, member):
    done = _purchase(signed_in("cashier", branch="t1"), member, total="500000")
    assert 'data-testid="sms-receipt"' not in done.content.decode()


def _sync(client, **body):
    return client.post("/till/t1/sync", json.dumps(body), content_type="application/json").json()


def test_offline_wallet_spends_are_checked_again_on_sync(signed_in, business, member):
    update_business(business, offline_spend_allowance=20_000)
    adjust(business, member.pk, "wallet", 15_000, reason="seed")
    client = signed_in("cashier", branch="t1")
    assert client.get("/till/t1/cache.json").json()["allowance"] == 20_000
    base = {"member_id": member.pk, "total": 100_000}
    assert _sync(client, key="w-1", receipt="W1", redeem_wallet=10_000, **base)["status"] == "sent"
    assert balances(member)["wallet"]["available"] == 5_000
    short = _sync(client, key="w-2", receipt="W2", redeem_wallet=10_000, **base)  # within the allowance, not held
    assert short["status"] == "problem" and short["code"] == "insufficient_balance"
    update_business(business, offline_spend_allowance=1_000)  # lowered meanwhile
    over = _sync(client, key="w-3", receipt="W3", redeem_wallet=5_000, **base)
    assert over["status"] == "problem" and over["code"] == "offline_allowance_exceeded"
    assert sorted(SyncProblem.objects.values_list("code", flat=True)) == ["insufficient_balance",
                                                                          "offline_allowance_exceeded"]
    assert list(Purchase.objects.values_list("receipt", flat=True)) == ["W1"]


def _problems(business, member):
    """One refused offline purchase at each branch: wallet spent with no offline allowance."""
    for n, branch in enumerate(("t1", "v2")):
        sync_offline_purchase(business, Branch.objects.get(business=business, code=branch), key=f"p-{n}",
                              member_id=member.pk, receipt="SYNC-" + "AB"[n], total=1000, redeem_wallet=500,
                              occurred_at=None, actor=Actor("operator", "1", "cashier"), language="fa")
    return {p.payload["receipt"]: p for p in SyncProblem.objects.all()}


def test_the_manager_filters_and_settles_sync_problems(signed_in, business, member):
    problems = _problems(business, member)
    client = signed_in("manager")
    html = client.get("/panel/sync-problems/").content.decode()
    assert html.count('data-testid="sync-problem"') == 2
    assert "/panel/sync-problems/" in client.get("/panel/").content.decode()  # in the sidebar
    html = client.get("/panel/sync-problems/", {"branch": "v2"}).content.decode()
    assert html.count('data-testid="sync-problem"') == 1 and "SYNC-B" in html and "SYNC-A" not in html
    html = client.get("/panel/sync-problems/", {"code": "receipt_exists"}).content.decode()
    assert 'data-testid="sync-problem"' not in html
    client.post(f"/panel/sync-problems/{problems['SYNC-A'].pk}/resolve", {"note": "با مشتری تسویه شد"})
    client.post(f"/panel/sync-problems/{problems['SYNC-B'].pk}/dismiss")
    problems["SYNC-A"].refresh_from_db()
    assert (problems["SYNC-A"].status, problems["SYNC-A"].note, problems["SYNC-A"].settled_by) == (
        "resolved", "با مشتری تسویه شد", "manager-all")
    assert SyncProblem.objects.get(pk=problems["SYNC-B"].pk).status == "dismissed"
    assert 'data-testid="sync-problem"' not in client.get("/panel/sync-problems/").content.decode()
    assert "با مشتری تسویه شد" in client.get("/panel/sync-problems/", {"status": "resolved"}).content.decode()
    assert client.post(f"/panel/sync-problems/{problems['SYNC-B'].pk}/explode").status_code == 404
    # settled once: a second settle changes nothing
    client.post(f"/panel/sync-problems/{problems['SYNC-A'].pk}/dismiss")
    assert SyncProblem.objects.get(pk=problems["SYNC-A"].pk).status == "resolved"
    # the till shows only the open ones
    assert "SYNC-A" not in client.get("/till/t1/problems").content.decode()


def test_a_cashier_reads_their_branchs_problems_but_does_not_settle(signed_in, business, member):
    problems = _problems(business, member)
    client = signed_in("cashier", branch="t1")
    html = client.get("/panel/sync-problems/").content.decode()
    assert "SYNC-A" in html and "SYNC-B" not in html
    # no button the server would refuse (403), and the page says who settles
    for button in ('data-testid="resolve"', 'data-testid="dismiss"', 'data-testid="send-again"', 'name="note"'):
        assert button not in html
    assert "مدیر هر کدام را با مشتری حل می‌کند" in html
    assert client.post(f"/panel/sync-problems/{problems['SYNC-A'].pk}/resolve").status_code == 403
    assert SyncProblem.objects.get(pk=problems["SYNC-A"].pk).status == "open"


def test_the_manager_sends_a_problem_again_once_the_cause_is_fixed(signed_in, business, member):
    problems = _problems(business, member)
    client = signed_in("manager")
    html = client.get("/panel/sync-problems/").content.decode()
    assert html.count('data-testid="send-again"') == 2 and "ارسال دوباره" in html
    assert html.count('data-testid="resolve"') == html.count('data-testid="dismiss"') == 2
    assert "مدیر هر کدام را با مشتری حل می‌کند" not in html
    url = f"/panel/sync-problems/{problems['SYNC-A'].pk}/send-again"
    assert client.get(url).status_code == 405
    back = "/panel/sync-problems/?branch=t1"
    assert client.post(url, {"back": back})["Location"] == back  # nothing fixed yet: refused again
    problems["SYNC-A"].refresh_from_db()
    assert problems["SYNC-A"].status == "open" and problems["SYNC-A"].sent_again_code == "till.refused_again"
    html = client.get(back).content.decode()
    assert "دوباره ارسال شد و باز پذیرفته نشد: اعتبار خرج‌شده در حالت آفلاین بیش از سقف مجاز" in html
    assert 'data-testid="sent-again"' in html and "manager-all" in html
    update_business(business, offline_spend_allowance=1_000)  # the cause fixed
    adjust(business, member.pk, "wallet", 500, reason="seed")
    client.post(url)
    problems["SYNC-A"].refresh_from_db()
    assert (problems["SYNC-A"].status, problems["SYNC-A"].settled_by) == ("resolved", "manager-all")
    assert list(Purchase.objects.values_list("receipt", "channel")) == [("SYNC-A", "till-offline")]
    html = client.get("/panel/sync-problems/", {"status": "resolved"}).content.decode()
    assert "دوباره ارسال شد و خرید ثبت شد" in html
    client.post(url)  # settled: a second post sends nothing
    assert Purchase.objects.count() == 1
    assert "SYNC-A" not in client.get("/till/t1/problems").content.decode()


def test_only_a_manager_of_the_business_sends_again(signed_in, business, other_business, member):
    from tests.conftest import set_up_member

    problems = _problems(business, member)
    update_business(business, offline_spend_allowance=1_000)
    adjust(business, member.pk, "wallet", 500, reason="seed")
    cashier = signed_in("cashier", branch="t1")
    assert cashier.post(f"/panel/sync-problems/{problems['SYNC-A'].pk}/send-again").status_code == 403
    theirs = set_up_member(other_business, mobile="09351230003")
    sync_offline_purchase(other_business, Branch.objects.get(business=other_business, code="main"), key="p-x",
                          member_id=theirs.pk, receipt="THEIRS", total=1000, redeem_wallet=500, occurred_at=None,
                          actor=Actor("operator", "9", "them"), language="en")
    foreign = SyncProblem.objects.get(business=other_business)
    manager = signed_in("manager")
    assert manager.post(f"/panel/sync-problems/{foreign.pk}/send-again").status_code == 404
    assert not Purchase.objects.exists()
    assert set(SyncProblem.objects.values_list("status", flat=True)) == {"open"}


def test_the_business_contact_and_allowance_in_settings_and_the_portal(signed_in, business, client):
    owner = signed_in("owner")
    form = {"name": business.name, "currency": "IRT", "calendar": "jalali", "language": "fa",
            "timezone": "Asia/Tehran", "contact_phone": "۰۲۱-۲۲۳۳۴۴۵۵", "contact_address": "تهران، خیابان ولیعصر",
            "website": "https://cafe.example", "instagram": "@cafe.vafa", "offline_spend_allowance": "۵۰٬۰۰۰"}
    assert owner.post("/panel/settings/", form | {"website": "javascript:alert(1)"}).status_code == 422
    assert owner.post("/panel/settings/", form).status_code == 302
    business.refresh_from_db()
    assert (business.contact_phone, business.instagram, business.offline_spend_allowance) == (
        "021-22334455", "cafe.vafa", 50_000)
    owner.logout()
    html = client.get("/m/cafe/contact/").content.decode()  # public: no sign-in
    assert 'href="tel:021-22334455"' in html and "https://www.instagram.com/cafe.vafa/" in html
    assert "تجریش" in html and "openstreetmap.org/search?query=" in html and 'href="https://cafe.example"' in html
