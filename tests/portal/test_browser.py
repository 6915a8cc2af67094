"""The member portal in a real browser, phone-sized (390×844), in Persian: Playwright driving Debian's chromium
against a live server, on SQLite only. The code is read from the file channel's messages.jsonl, as a person
trying the demo would. Screenshots of every portal screen go to the panel's folder (VAFA_SCREENSHOTS)."""

import datetime as dt
import os

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from tests.conftest import ON_POSTGRES
from tests.panel.test_browser import CHROMIUM, browser, sign_in  # noqa: F401 - fixtures and helpers
from tests.panel.test_browser import shot as panel_shot
from tests.portal.conftest import last_code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
    pytest.mark.skipif(ON_POSTGRES, reason="browser tests run on SQLite only"),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):  # noqa: F811 - the panel's browser fixture
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="fa-IR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def desk(browser, live_server):  # noqa: F811
    """The back office, in a browser of its own (an operator's session is not the member's)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    """A phone screen from top to bottom: the viewport grows to the page's height for the picture, so the bottom
    menu (sticky to the viewport) is drawn where a member scrolling down sees it."""
    if page.viewport_size["width"] != PHONE["width"]:
        panel_shot(page, name)
        return
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": max(PHONE["height"], height)})
    panel_shot(page, name)
    page.set_viewport_size(PHONE)


def ask_code(page, mobile="۰۹۱۲۱۲۳۴۵۶۷"):
    page.goto("/m/cafe/")
    expect(page.locator("#id_mobile")).to_have_attribute("type", "tel")
    page.fill("#id_mobile", mobile)
    page.click("button[type=submit]")
    expect(page.locator("#id_code")).to_have_attribute("autocomplete", "one-time-code")


def signed_in(page, mobile="۰۹۱۲۱۲۳۴۵۶۷"):
    ask_code(page, mobile)
    page.fill("#id_code", last_code())
    page.click("button[type=submit]")
    expect(page.locator("[data-testid=balance-points]")).to_be_visible()


def points_on_screen(page) -> str:
    return page.locator("[data-testid=balance-points] .fs-5").inner_text().strip()


def test_sign_in_with_the_code_from_the_messages_file_and_every_screen(phone, file_business, member,
                                                                       purchase_at, transactional_db):
    from vafa.catalogue.services import create_gift
    from vafa.members.services import CardIssue, issue_card

    issue_card(file_business, CardIssue.check(member.pk))
    purchase_at(member, total=250_000)
    purchase_at(member, total=180_000, branch="v2")
    create_gift(file_business, title="لیوان دسته‌دار", price_currency="points", price=20, stock=3)
    create_gift(file_business, title="بسته قهوه", price_currency="points", price=5000)
    phone.goto("/m/cafe/")
    shot(phone, "portal-sign-in")
    ask_code(phone)
    shot(phone, "portal-sign-in-code")
    phone.fill("#id_code", last_code())
    phone.click("button[type=submit]")
    expect(phone.locator("[data-testid=card-qr] svg")).to_be_visible()
    expect(phone.locator("[data-testid=tier]")).to_be_visible()
    shot(phone, "portal-home")
    for name in ("history", "points", "gifts", "offers", "invite", "profile", "receipts"):
        phone.goto(f"/m/cafe/{name}/")
        expect(phone.locator("main h1")).to_be_visible()
        shot(phone, f"portal-{name}")
    phone.click("[data-testid=sign-out]")
    expect(phone.locator("#id_mobile")).to_be_visible()


def test_a_wrong_code_and_an_expired_code_are_refused(phone, file_business, member, transactional_db):
    from vafa.messaging.models import OneTimeCode

    ask_code(phone)
    code = last_code()
    phone.fill("#id_code", "00000" if code != "00000" else "11111")
    phone.click("button[type=submit]")
    expect(phone.locator("[data-testid=code-error]")).to_contain_text("کد تأیید درست نیست")
    shot(phone, "portal-sign-in-wrong-code")
    OneTimeCode.objects.filter(business=file_business).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    phone.fill("#id_code", code)
    phone.click("button[type=submit]")
    expect(phone.locator("[data-testid=code-error]")).to_contain_text("منقضی")
    phone.goto("/m/cafe/history/")
    expect(phone).to_have_url(f"{phone.url.split('/m/')[0]}/m/cafe/sign-in/")  # still signed out


def test_a_new_mobile_joins_from_a_referral_link(phone, file_business, member, transactional_db):
    phone.goto(f"/m/cafe/sign-in/?ref={member.code}")
    phone.fill("#id_mobile", "۰۹۳۵۱۱۱۲۲۳۳")
    phone.click("button[type=submit]")
    phone.fill("#id_code", last_code())
    phone.click("button[type=submit]")
    expect(phone.locator("#id_ref")).to_have_value(member.code)
    phone.fill("#id_first_name", "سارا")
    shot(phone, "portal-join")
    phone.click("button[type=submit]")
    expect(phone.locator("[data-testid=card-qr] svg")).to_be_visible()
    assert member.referrals.count() == 1


def test_request_a_gift_and_see_the_balance_drop(phone, file_business, member, transactional_db):
    from vafa.catalogue.services import create_gift
    from vafa.members.balances import adjust

    adjust(file_business, member.pk, "points", 300, reason="هدیه خوش‌آمد")
    create_gift(file_business, title="لیوان", price_currency="points", price=200, stock=2)
    signed_in(phone)
    assert points_on_screen(phone) == "۳۰۰"
    phone.goto("/m/cafe/gifts/")
    phone.click("button:has-text('درخواست این هدیه')")
    expect(phone.locator("[data-testid=gift-request]")).to_contain_text("لیوان")
    shot(phone, "portal-gifts-requested")
    phone.goto("/m/cafe/")
    assert points_on_screen(phone) == "۱۰۰"


def register(phone, receipt: str, amount: str):
    from vafa.core.calendar import format_date

    phone.goto("/m/cafe/receipts/")
    phone.fill("#id_purchased_on", format_date(timezone.localdate(), "jalali", "fa"))
    phone.keyboard.press("Escape")
    phone.fill("#id_receipt", receipt)
    phone.fill("#id_amount", amount)
    phone.press("#id_amount", "Enter")


def test_a_matching_receipt_earns_and_another_is_approved_in_the_back_office(phone, desk, file_business, member,
                                                                              operator, transactional_db):
    from vafa.ledger.selectors import balances
    from vafa.portal.services import report_receipt

    report_receipt(file_business, branch_code="t1", receipt="R-100", total=250_000, occurred_at=timezone.now())
    signed_in(phone)
    register(phone, "R-100", "۲۵۰٬۰۰۰")
    expect(phone.locator("[data-testid=claim-status]").first).to_have_text("پذیرفته شد")
    earned = balances(member)["points"]["available"]
    assert earned > 0
    register(phone, "R-200", "۱۸۰٬۰۰۰")
    expect(phone.locator("[data-testid=claim-status]").first).to_have_text("در انتظار بررسی")
    shot(phone, "portal-receipts-claimed")
    operator("manager")
    sign_in(desk, "manager-all")
    desk.goto("/panel/claims/")
    expect(desk.locator("[data-testid=claim]")).to_have_count(1)
    shot(desk, "panel-claims")
    desk.click("[data-testid=approve]")
    expect(desk.locator("[data-testid=claim]")).to_have_count(0)
    phone.goto("/m/cafe/receipts/")
    expect(phone.locator("[data-testid=claim-status]").first).to_have_text("تأیید شد")
    assert balances(member)["points"]["available"] > earned
    phone.goto("/m/cafe/history/")
    expect(phone.locator("[data-testid=purchase]")).to_have_count(2)


def test_the_portal_is_an_installable_app_with_a_controlling_service_worker(browser, live_server, tmp_path,  # noqa: F811
                                                                            file_business, member,
                                                                            transactional_db):
    # A profile on disk: chromium reports an incognito context as never installable, whatever the site does.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=["--no-sandbox"], base_url=live_server.url,
        viewport=PHONE)
    try:
        phone = context.new_page()
        phone.set_default_timeout(15_000)
        signed_in(phone)
        state = phone.evaluate("async () => (await navigator.serviceWorker.ready).active.state")
        assert state in ("activating", "activated")
        phone.reload()
        expect(phone.locator("[data-testid=card-qr] svg")).to_be_visible()
        assert phone.evaluate("navigator.serviceWorker.controller !== null")
        assert phone.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/m/cafe/sw.js")
        cdp = context.new_cdp_session(phone)
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest.get("errors"), manifest
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()
