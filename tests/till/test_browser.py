"""The till in a real browser, phone-sized (390×844): Playwright driving Debian's chromium against a live server,
on SQLite. The browser and screenshot helpers are the panel's (tests/panel/test_browser.py). Screenshots of every
till screen go to the same folder, in Persian."""

import os
import re

import pytest
from playwright.sync_api import expect
from tests.panel.conftest import PASSWORD
from tests.panel.test_browser import CHROMIUM, browser, shot  # noqa: F401 — the panel's browser fixture, shared

from vafa.core.digits import to_persian_digits
from vafa.ledger.selectors import balances
from vafa.members.services import CardIssue, MemberUpdate, issue_card, update_member
from vafa.purchases.models import Purchase
from vafa.till.models import SyncProblem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("VAFA_DATABASE_URL", "").startswith("postgres")),
                       reason="browser tests run on SQLite only"),
]


@pytest.fixture
def context(browser, live_server):  # noqa: F811
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def till_sign_in(page, username: str, branch: str = "t1") -> None:
    page.goto("/till/")
    page.wait_for_url(re.compile(r".*/panel/login\?next=/till/"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button")
    page.wait_for_url(re.compile(rf".*/till/{branch}/$"))


def test_find_by_persian_mobile_and_card_preview_confirm(page, operator, business, member, transactional_db):
    card = issue_card(business, CardIssue.check(member.pk)).card
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    shot(page, "till-find")
    page.fill("[data-testid=find]", "۰۹۱۲۱۲۳۴۵۶۷")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/till/t1/m/{member.pk}/$"))
    page.goto("/till/t1/")
    page.fill("[data-testid=find]", card.number)
    page.keyboard.press("Enter")  # what a card reader does
    page.wait_for_url(re.compile(rf".*/till/t1/m/{member.pk}/$"))
    page.fill("[data-testid=receipt]", "R-100")
    page.fill("[data-testid=amount]", "۳۰۰۰۰۰")
    expect(page.locator("[data-testid=earn-points]")).to_have_text("۳۰")
    page.fill("[data-testid=amount]", "۵۰۰۰۰۰")
    expect(page.locator("[data-testid=earn-points]")).to_have_text("۵۰")
    shot(page, "till-member-preview")
    assert not Purchase.objects.exists()
    page.locator("[data-testid=amount]").press("Enter")
    expect(page.locator("[data-testid=done]")).to_be_visible()
    shot(page, "till-done")
    expect(page.locator("[data-testid=balance-points]")).to_have_text("۵۰")
    assert balances(member)["points"]["available"] == 50 and Purchase.objects.count() == 1
    # the next customer, a known member with a plain amount: find, type the amount, Enter
    page.click("[data-testid=next]")
    page.locator("[data-testid=find]").fill("۰۹۱۲۱۲۳۴۵۶۷")
    page.keyboard.press("Enter")
    page.locator("[data-testid=amount]").fill("۱۰۰۰۰۰")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=balance-points]")).to_have_text("۶۰")
    assert Purchase.objects.count() == 2


def test_replace_a_lost_card_at_the_till(page, operator, business, member, transactional_db):
    from vafa.access.models import AuditEvent
    from vafa.members.models import Card

    old = issue_card(business, CardIssue.check(member.pk)).card
    AuditEvent.objects.all().delete()
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    page.goto(f"/till/t1/m/{member.pk}/")
    page.click("[data-testid=replace-card]")
    expect(page.locator("text=شماره قبلی مسدود شد")).to_be_visible()
    shot(page, "till-card-replaced")
    new = Card.objects.get(member=member, status="active")
    assert new.number != old.number and Card.objects.get(pk=old.pk).status == "replaced"
    expect(page.locator("text=شماره قبلی مسدود شد")).to_contain_text(to_persian_digits(new.number))  # Persian digits
    event = AuditEvent.objects.get(operation="card.replace")  # (the page's live previews are posts too)
    assert (event.channel, event.object_id, event.action) == ("till", new.number, f"POST /till/t1/m/{member.pk}/card")


def test_a_return_from_the_till(page, operator, member, purchase_at, transactional_db):
    purchase = purchase_at(member, total=300_000)
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    page.goto(f"/till/t1/m/{member.pk}/")
    page.click(f"[data-testid=return-{purchase['receipt']}]")
    page.fill("[data-testid=return-amount]", "۱۰۰۰۰۰")
    page.click("[data-testid=return-preview-btn]")
    expect(page.locator("[data-testid=return-preview]")).to_be_visible()
    shot(page, "till-return")
    page.click("[data-testid=return-confirm]")
    page.wait_for_url(re.compile(rf".*/till/t1/m/{member.pk}/$"))
    assert Purchase.objects.get(pk=purchase["id"]).returned_amount == 100_000


def test_a_cashier_of_branch_a_cannot_act_on_branch_b(page, operator, member, transactional_db):
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    response = page.goto(f"/till/v2/m/{member.pk}/")
    assert response.status == 403
    expect(page.locator("[data-testid=forbidden]")).to_be_visible()
    shot(page, "till-forbidden")


def _offline_purchase(page, find: str, receipt: str, total: str) -> None:
    page.fill("[data-testid=find]", find)
    page.keyboard.press("Enter")
    page.fill("[data-testid=offline-receipt]", receipt)
    page.fill("[data-testid=offline-total]", total)
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-saved]")).to_be_visible()


def test_offline_purchases_are_sent_exactly_once(page, context, operator, business, member, make_member,
                                                 purchase_at, transactional_db):
    other = make_member(mobile="09350001111", first_name="سارا")
    purchase_at(member, total=100_000)  # both are recent buyers at t1: in the offline cache
    purchase_at(other, total=100_000)
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    expect(page.locator("body")).to_have_attribute("data-sw-state", re.compile("ready|controlled"))
    page.reload()  # the service worker now controls the page and has cached it
    expect(page.locator("body")).to_have_attribute("data-sw-state", "controlled")
    expect(page.locator("body")).to_have_attribute("data-cache", "fresh")
    context.set_offline(True)
    expect(page.locator("#net")).to_have_attribute("data-state", "offline")
    page.fill("[data-testid=find]", "۰۹۱۲۱۲۳۴۵۶۷")
    page.keyboard.press("Enter")
    page.fill("[data-testid=offline-receipt]", "OFF-1")
    page.fill("[data-testid=offline-total]", "۲۰۰۰۰۰")
    expect(page.locator("[data-testid=offline-estimate]")).to_contain_text("۲۰")
    page.fill("[data-testid=offline-points]", "۱۰")
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-error]")).not_to_be_empty()  # spending points offline: refused
    shot(page, "till-offline-points-refused")
    page.fill("[data-testid=offline-points]", "")
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-saved]")).to_be_visible()
    _offline_purchase(page, "09121234567", "OFF-2", "300000")
    _offline_purchase(page, member.code, "OFF-3", "400000")
    _offline_purchase(page, "09350001111", "OFF-4", "500000")  # refused on sync: blocked meanwhile
    expect(page.locator("[data-testid=waiting] li")).to_have_count(4)
    shot(page, "till-offline-waiting")
    update_member(business, MemberUpdate.check(business, other.pk, status="blocked"))
    page.reload()  # offline: the service worker answers from its cache, the queue is still there
    expect(page.locator("[data-testid=waiting] li")).to_have_count(4)
    assert not Purchase.objects.filter(receipt__startswith="OFF").exists()
    context.set_offline(False)
    expect(page.locator("#queue")).to_be_hidden()
    page.reload()  # nothing is sent twice after a reload
    expect(page.locator("#queue")).to_be_hidden()
    receipts = list(Purchase.objects.filter(receipt__startswith="OFF").values_list("receipt", flat=True))
    assert sorted(receipts) == ["OFF-1", "OFF-2", "OFF-3"]
    assert [p.payload["receipt"] for p in SyncProblem.objects.all()] == ["OFF-4"]
    page.goto("/till/t1/problems")
    expect(page.locator("[data-testid=problems] li")).to_have_count(1)
    shot(page, "till-sync-problems")


def test_manifest_and_screens(page, operator, member, transactional_db):
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    manifest = page.request.get("/till/manifest.webmanifest").json()
    assert manifest["scope"] == "/till/" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert page.request.get(icon["src"]).ok
    page.fill("[data-testid=find]", "۰۹۳۵۹۹۹۸۸۷۷")
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=signup]")).to_be_visible()
    shot(page, "till-signup")
    page.goto("/till/t1/today")
    shot(page, "till-today")


def test_member_page_offline_estimates_refuses_points_and_queues(page, context, operator, member, purchase_at,
                                                                  transactional_db):
    purchase_at(member, total=1_000_000)  # 100 points held
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    page.goto(f"/till/t1/m/{member.pk}/")
    expect(page.locator("body")).to_have_attribute("data-cache", "fresh")
    context.set_offline(True)
    page.fill("[data-testid=receipt]", "OFF-M1")
    page.fill("[data-testid=amount]", "۲۰۰۰۰۰")
    expect(page.locator("[data-testid=offline-estimate]")).to_contain_text("۲۰")
    page.click("summary")
    page.fill("[data-testid=redeem_points]", "۵۰")
    page.click("[data-testid=confirm]")
    expect(page.locator("[data-testid=offline-error]")).to_be_visible()
    page.fill("[data-testid=redeem_points]", "")
    page.click("[data-testid=confirm]")
    expect(page.locator("[data-testid=offline-saved]")).to_be_visible()
    shot(page, "till-member-offline")
    assert not Purchase.objects.filter(receipt="OFF-M1").exists()
    context.set_offline(False)
    expect(page.locator("#queue")).to_be_hidden()
    assert Purchase.objects.filter(receipt="OFF-M1").count() == 1


def test_two_tabs_send_the_queue_once(context, page, operator, member, purchase_at, transactional_db):
    purchase_at(member, total=100_000)
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    expect(page.locator("body")).to_have_attribute("data-sw-state", re.compile("ready|controlled"))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-sw-state", "controlled")
    expect(page.locator("body")).to_have_attribute("data-cache", "fresh")
    context.set_offline(True)
    for receipt in ("TAB-1", "TAB-2", "TAB-3"):
        _offline_purchase(page, "09121234567", receipt, "100000")
    second = context.new_page()
    second.goto("/till/t1/")  # offline: from the worker's cache, the same queue in IndexedDB
    expect(second.locator("[data-testid=waiting] li")).to_have_count(3)
    context.set_offline(False)  # both tabs hear "online" and try to send: one Web Lock, the server's keys
    expect(page.locator("#queue")).to_be_hidden()
    expect(second.locator("#queue")).to_be_hidden()
    receipts = list(Purchase.objects.filter(receipt__startswith="TAB").values_list("receipt", flat=True))
    assert sorted(receipts) == ["TAB-1", "TAB-2", "TAB-3"]
