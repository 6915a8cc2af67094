"""The till's second round in a real browser, phone-sized and in Persian: the camera reads the portal's QR
(Chromium's fake camera plays a picture of it), gift credit and a gift card in the live preview, the SMS
receipt, the offline wallet allowance, the back office's sync problems (settled, sent again) and the portal's
contact page."""

import os
import re

import pytest
from playwright.sync_api import expect
from tests.panel.conftest import PASSWORD
from tests.panel.test_browser import CHROMIUM, browser, shot  # noqa: F401 — the panel's browser fixture, shared
from tests.till.test_browser import context, page, till_sign_in  # noqa: F401 — the till's phone-sized page

from vafa.core.actor import Actor
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.selectors import balances
from vafa.members.balances import adjust, grant_gift_credit
from vafa.members.services import CardIssue, issue_card
from vafa.messaging.services import update_settings
from vafa.portal import selectors as portal
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch
from vafa.tenancy.services import update_business
from vafa.till.services import sync_offline_purchase

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("VAFA_DATABASE_URL", "").startswith("postgres")),
                       reason="browser tests run on SQLite only"),
]


def qr_video(text: str, path, size: int = 480) -> None:
    """A one-frame Y4M video of the QR code the portal draws for `text`, for Chromium's fake camera: black modules
    on white, 4 modules of quiet zone, centred."""
    matrix = [list(row) for row in portal.qr_code(text).matrix]
    modules = len(matrix) + 8
    scale = size // modules
    offset = (size - scale * len(matrix)) // 2
    luma = bytearray(b"\xff" * size * size)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (offset + y * scale + dy) * size + offset + x * scale
                    luma[start:start + scale] = b"\x00" * scale
    chroma = b"\x80" * (size // 2) * (size // 2)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        f.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def test_the_camera_reads_the_portals_qr_and_finds_the_member(live_server, operator, business, member, tmp_path,
                                                               transactional_db):
    issue_card(business, CardIssue.check(member.pk))
    payload = portal.home(member)["card_number"]  # what the member's app shows as a QR code
    video = tmp_path / "qr.y4m"
    qr_video(payload, video)
    operator("cashier", branch="t1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        camera_browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        camera = camera_browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844},
                                            is_mobile=True, has_touch=True, permissions=["camera"],
                                            service_workers="block")  # page routes see every request
        tab = camera.new_page()
        tab.set_default_timeout(15_000)
        console = []
        tab.on("console", lambda m: console.append(m.text))
        till_sign_in(tab, "cashier-t1")
        expect(tab.locator("[data-testid=scan]")).to_be_visible()  # jsQR loaded, the camera API is there
        tab.click("[data-testid=scan]")
        tab.wait_for_url(re.compile(rf".*/till/t1/m/{member.pk}/$"))
        expect(tab.locator("[data-testid=member]")).to_be_visible()
        assert not [line for line in console if "Content Security Policy" in line], console
        shot(tab, "till-scan-found")
        # for the picture of the scanner at work: a jsQR that never finds, so the camera's view stays on screen
        tab.route("**/jsQR.js", lambda route: route.fulfill(body="window.jsQR = function () { return null; };",
                                                            content_type="text/javascript"))
        tab.goto("/till/t1/")
        tab.click("[data-testid=scan]")
        expect(tab.locator("#scanner")).to_have_attribute("data-state", "scanning")
        tab.wait_for_timeout(500)
        shot(tab, "till-scan")
        camera.close()
        camera_browser.close()


def test_gift_credit_and_card_in_the_preview_and_the_sms_receipt(page, operator, business, member,  # noqa: F811
                                                                  settings, tmp_path, transactional_db):
    settings.DATA_DIR = tmp_path
    update_settings(business, sms_provider="file", price_per_part=1000)
    grant_gift_credit(business, amount=30_000, reason="هدیه تولد", member_ids=[member.pk])
    card = issue_gift_card(business, amount=100_000)
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    page.goto(f"/till/t1/m/{member.pk}/")
    page.fill("[data-testid=amount]", "۲۰۰۰۰۰")
    page.click("summary")
    page.fill("[data-testid=redeem_gift_credit]", "۳۰۰۰۰")
    page.fill("[data-testid=gift_card_code]", card.code)
    page.fill("[data-testid=gift_card_amount]", "۵۰۰۰۰")
    expect(page.locator("[data-testid=gift-card-spent]")).to_be_visible()
    expect(page.locator("[data-testid=preview-body] [data-testid=payable]")).to_contain_text("۱۲۰٬۰۰۰")
    shot(page, "till-member-gift-payments")
    page.click("[data-testid=confirm]")
    expect(page.locator("[data-testid=done]")).to_be_visible()
    expect(page.locator("[data-testid=sms-receipt]")).to_be_visible()
    expect(page.locator("[data-testid=gift-credit-spent]")).to_be_visible()
    shot(page, "till-done-sms-receipt")
    assert balances(member)["gift_credit"]["available"] == 0 and Purchase.objects.count() == 1


def test_offline_wallet_within_the_allowance_is_queued_and_sent(page, context, operator, business, member,  # noqa: F811
                                                                 purchase_at, transactional_db):
    update_business(business, offline_spend_allowance=20_000)
    adjust(business, member.pk, "wallet", 50_000, reason="seed")
    purchase_at(member, total=100_000)
    operator("cashier", branch="t1")
    till_sign_in(page, "cashier-t1")
    expect(page.locator("body")).to_have_attribute("data-sw-state", re.compile("ready|controlled"))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-cache", "fresh")
    context.set_offline(True)
    expect(page.locator("#net")).to_have_attribute("data-state", "offline")
    page.fill("[data-testid=find]", "۰۹۱۲۱۲۳۴۵۶۷")
    page.keyboard.press("Enter")
    page.fill("[data-testid=offline-total]", "۲۰۰۰۰۰")
    page.fill("[data-testid=offline-wallet]", "۱۵۰۰۰")
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-saved]")).to_be_visible()
    page.fill("[data-testid=find]", "09121234567")
    page.keyboard.press("Enter")
    page.fill("[data-testid=offline-total]", "۱۰۰۰۰۰")
    page.fill("[data-testid=offline-wallet]", "۱۰۰۰۰")  # 15,000 held on the device + 10,000 > 20,000
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-error]")).to_contain_text("۵٬۰۰۰")
    shot(page, "till-offline-allowance-refused")
    page.fill("[data-testid=offline-wallet]", "۵۰۰۰")
    page.click("[data-testid=offline-confirm]")
    expect(page.locator("[data-testid=offline-saved]")).to_be_visible()
    expect(page.locator("[data-testid=waiting] li")).to_have_count(2)
    context.set_offline(False)
    expect(page.locator("#queue")).to_be_hidden()
    assert Purchase.objects.filter(channel="till-offline").count() == 2
    assert balances(member)["wallet"]["available"] == 30_000


def _two_sync_problems(business, member) -> None:
    for n, code in enumerate(("t1", "v2")):
        sync_offline_purchase(business, Branch.objects.get(business=business, code=code), key=f"k{n}",
                              member_id=member.pk, receipt=f"OFF-{n}", total=150_000, redeem_wallet=5_000,
                              occurred_at=None, actor=Actor("operator", "1", "cashier-t1"), language="fa")


def _to_sync_problems(page, username: str) -> None:  # noqa: F811
    page.goto("/panel/login?next=/panel/sync-problems/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button")
    page.wait_for_url(re.compile(r".*/panel/sync-problems/$"))


def test_a_cashier_reads_the_sync_problems_without_the_managers_buttons(page, operator, business,  # noqa: F811
                                                                         member, transactional_db):
    _two_sync_problems(business, member)
    operator("cashier", branch="t1")
    _to_sync_problems(page, "cashier-t1")
    expect(page.locator("[data-testid=sync-problem]")).to_have_count(1)  # their branch's
    expect(page.locator("[data-testid=sync-problem]")).to_contain_text("OFF-0")
    expect(page.locator("[data-testid=resolve], [data-testid=dismiss], [data-testid=send-again]")).to_have_count(0)
    expect(page.locator("main p").first).to_contain_text("مدیر هر کدام را با مشتری حل می‌کند")
    shot(page, "panel-sync-problems-cashier")


def test_sync_problems_in_the_back_office_and_the_portal_contact(page, operator, business, member,  # noqa: F811
                                                                  transactional_db):
    _two_sync_problems(business, member)
    operator("manager")
    _to_sync_problems(page, "manager-all")
    expect(page.locator("[data-testid=sync-problem]")).to_have_count(2)
    shot(page, "panel-sync-problems")
    page.locator("[data-testid=note]").first.fill("با مشتری تسویه شد")
    page.locator("[data-testid=resolve]").first.click()
    expect(page.locator("[data-testid=sync-problem]")).to_have_count(1)
    page.locator("[data-testid=send-again]").click()  # nothing fixed yet: refused again, the new refusal shown
    expect(page.locator("[data-testid=sent-again]")).to_contain_text("دوباره ارسال شد و باز پذیرفته نشد")
    shot(page, "panel-sync-problem-refused-again")
    update_business(business, offline_spend_allowance=10_000)  # the cause fixed
    adjust(business, member.pk, "wallet", 5_000, reason="seed")
    page.locator("[data-testid=send-again]").click()
    expect(page.locator("[data-testid=sync-problem]")).to_have_count(0)
    assert list(Purchase.objects.values_list("receipt", flat=True)) == ["OFF-0"]  # the older one, left open
    page.goto("/panel/sync-problems/?status=resolved")
    expect(page.locator("[data-testid=settled]")).to_have_count(2)
    sent = page.locator("[data-testid=sync-problem]").filter(has_text="دوباره ارسال شد و خرید ثبت شد")
    expect(sent).to_contain_text("OFF-0")
    expect(sent).to_contain_text("manager-all")  # who sent it again
    shot(page, "panel-sync-problem-sent-again")
    page.set_viewport_size({"width": 1024, "height": 900})  # the back office's settings are a desktop screen
    page.goto("/panel/settings/")
    shot(page, "panel-settings-contact")
    page.set_viewport_size({"width": 390, "height": 844})
    update_business(business, contact_phone="021-22334455", contact_address="تهران، خیابان ولیعصر، پلاک ۱۲",
                    website="https://cafe.example", instagram="cafe.vafa")
    Branch.objects.filter(business=business, code="t1").update(address="تهران، میدان تجریش")
    page.goto("/m/cafe/contact/")
    expect(page.locator("[data-testid=contact-phone]")).to_be_visible()
    expect(page.locator("[data-testid=branch]")).to_have_count(2)
    shot(page, "portal-contact")
