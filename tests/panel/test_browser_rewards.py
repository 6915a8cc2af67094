"""The rewards and settings screens added after part 2, in a real browser (Playwright driving Debian's chromium
against a live server, SQLite only): paid plans (create, subscribe, stop renewal), a gift picture uploaded and
shown in the panel and the member portal, the analyst's simulate and backtest, the program editor's readable
error, Settings → WooCommerce and the active-member window. Screenshots in Persian go to VAFA_SCREENSHOTS."""

import struct
import zlib

import pytest
import tests.panel.test_browser as part1
import tests.panel.test_browser_part2 as part2
from playwright.sync_api import expect

pytestmark = part1.pytestmark
browser, page, shot, sign_in, demo = part1.browser, part1.page, part1.shot, part1.sign_in, part2.demo
OWNER = part2.OWNER


def png(width: int = 240, height: int = 160) -> bytes:
    """A real PNG (a warm gradient) the browser can draw, made without Pillow."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"".join(bytes((200, 120 + x * 100 // width, 60 + y * 120 // height))
                                        for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_DIR = tmp_path / "media"
    return settings.MEDIA_DIR


def test_paid_plans_create_subscribe_and_stop_renewal(page, demo):
    from vafa.clubs.models import Subscription
    from vafa.members.models import Member

    member = Member.objects.filter(business=demo).order_by("pk").first()
    sign_in(page, OWNER)
    page.goto("/panel/rewards/plans/")
    page.click("[data-testid=new-plan]")
    page.fill("#id_code", "gold")
    page.fill("#id_name_fa", "باشگاه طلایی")
    page.fill("#id_price", "۲۵۰٬۰۰۰")
    page.fill("#id_multiplier", "۲")
    page.fill("#id_discount_percent", "۱۰")
    page.fill("#id_perks", "قهوهٔ رایگان روز تولد\nپارکینگ اختصاصی")
    page.fill("#id_reminder_days", "abc")
    page.click("[data-testid=plan-form] button")
    expect(page.locator("[data-testid=error-reminder_days]")).to_be_visible()
    shot(page, "fa-plan-form-error")
    page.fill("#id_reminder_days", "۷")
    page.click("[data-testid=plan-form] button")
    page.wait_for_url("**/panel/rewards/plans/")
    expect(page.locator("[data-testid=plan-gold]")).to_contain_text("باشگاه طلایی")
    page.fill("#id_sub-member", member.code)
    page.select_option("#id_sub-plan", "gold")
    page.select_option("#id_sub-payment", "external")
    page.click("[data-testid=subscribe-form] button")
    expect(page.locator("[data-testid=subscribers-gold]")).to_contain_text("۱ مشترک")
    shot(page, "fa-plans")
    subscription = Subscription.objects.get(business=demo)
    page.click(f"[data-testid=stop-renewal-{subscription.pk}]")
    expect(page.locator(f"[data-testid=stop-renewal-{subscription.pk}]")).to_have_count(0)
    subscription.refresh_from_db()
    assert subscription.auto_renew is False
    page.goto("/panel/rewards/causes/")
    shot(page, "fa-causes-donate")


def test_gift_picture_uploaded_and_shown_in_the_panel_and_the_portal(page, demo, media):
    from vafa.catalogue.models import Gift
    from vafa.members.models import Member
    from vafa.portal.session import session_key

    sign_in(page, OWNER)
    page.goto("/panel/rewards/gifts/")
    page.fill("#id_gift-title", "ماگ سرامیکی کافه")
    page.fill("#id_gift-price", "۱۰")
    page.set_input_files("#id_gift-picture", files=[{"name": "mug.svg", "mimeType": "image/svg+xml",
                                                     "buffer": b"<svg onload=alert(1)></svg>"}])
    page.click("[data-testid=gift-form] button")
    expect(page.locator("[data-testid=error-picture]")).to_contain_text("PNG")
    assert not Gift.objects.filter(business=demo).exists()
    page.set_input_files("#id_gift-picture", files=[{"name": "mug.png", "mimeType": "image/png", "buffer": png()}])
    page.click("[data-testid=gift-form] button")
    page.wait_for_url("**/panel/rewards/gifts/")
    gift = Gift.objects.get(business=demo)
    page.goto(f"/panel/rewards/gifts/{gift.pk}/")
    picture = page.locator("[data-testid=gift-picture] img")
    expect(picture).to_be_visible()
    expect(picture).to_have_js_property("naturalWidth", 240)  # drawn, not a broken image
    shot(page, "fa-gift")
    # the member portal's catalogue, as a signed-in member (the session key a code sign-in writes)
    member = Member.objects.filter(business=demo).order_by("pk").first()
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[session_key(demo)] = member.pk
    store.save()
    origin = "/".join(page.url.split("/")[:3]) + "/"
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "sessionid", "value": store.session_key, "url": origin}])
    page.goto(f"/m/{demo.slug}/gifts/")
    expect(page.locator("[data-testid=gift] img")).to_have_js_property("naturalWidth", 240)
    shot(page, "fa-portal-gift-picture")


def test_analyst_simulates_and_backtests_but_cannot_activate(page, demo, operator_for_demo):
    from vafa.members.models import Member

    member = Member.objects.filter(business=demo).order_by("pk").first()
    sign_in(page, "demo-analyst")
    page.goto("/panel/program/")
    page.fill("#id_sim-member", member.code)
    page.fill("#id_sim-total", "۵۰۰٬۰۰۰")
    page.click("[data-testid=simulate-form] button")
    expect(page.locator("[data-testid=simulate-result]")).to_be_visible()
    shot(page, "fa-program-analyst-simulate")
    page.click("[data-testid=draft-program]")
    expect(page.locator("[data-testid=activate]")).to_have_count(0)
    text = page.input_value("[data-testid=program-yaml]")
    page.fill("[data-testid=program-yaml]", text.replace("award: 10", "award: 20", 1))
    page.click("[data-testid=backtest]")
    expect(page.locator("[data-testid=backtest-result]")).to_be_visible(timeout=60_000)
    shot(page, "fa-program-analyst-backtest")


def test_woocommerce_connection_and_the_active_window_setting(page, demo):
    from vafa.woocommerce.models import WooConnection

    sign_in(page, OWNER)
    page.goto("/panel/settings/woocommerce")
    page.click("[data-testid=connect]")
    secret = page.text_content("[data-testid=new-secret]").strip()
    assert secret == WooConnection.objects.get(business=demo).secret
    shot(page, "fa-settings-woocommerce-connected")
    page.reload()
    expect(page.locator("[data-testid=new-secret]")).to_have_count(0)
    assert secret not in page.content()
    shot(page, "fa-settings-woocommerce")
    page.goto("/panel/settings/")
    page.fill("#id_active_days", "۹۰")
    page.click("main form button.btn-success")
    page.goto("/panel/")
    expect(page.locator("main")).to_contain_text("دست‌کم یک خرید در ۹۰ روز گذشته")


@pytest.fixture
def operator_for_demo(demo):
    from django.contrib.auth import get_user_model
    from tests.panel.conftest import PASSWORD

    from vafa.access.services import make_operator

    user = get_user_model().objects.create_user("demo-analyst", password=PASSWORD)
    return make_operator(demo, user, role="analyst")
