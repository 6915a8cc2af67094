"""Messaging in the back office in a real browser (Playwright driving Debian's chromium against a live server,
SQLite only): a template edited with its live preview (an unknown variable named before saving), the settings
saved with time pickers, a broadcast estimated, the member's messages and the messages-sent report filtered by a
Jalali date range. Screenshots in Persian, desktop and phone, go to VAFA_SCREENSHOTS."""

import datetime as dt
import re

import pytest
import tests.panel.test_browser as part1
from django.utils import timezone
from playwright.sync_api import expect

from vafa.core.calendar import format_date

pytestmark = part1.pytestmark
browser, page, shot, sign_in, close_date_picker = (part1.browser, part1.page, part1.shot, part1.sign_in,
                                                     part1.close_date_picker)
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def club(business, operator, make_member, settings, tmp_path, transactional_db):
    """The test café with the file channel, an owner, and a member who was sent two messages."""
    from vafa.messaging import services

    settings.DATA_DIR = tmp_path
    services.update_settings(business, sms_provider="file", price_per_part=1200)
    operator("owner")
    member = make_member(mobile="09351112233", first_name="مریم", last_name="احمدی")
    services.queue_message(business, member=member, kind="welcome", text="به باشگاه کافه وفا خوش آمدید!",
                           at=timezone.now() - dt.timedelta(days=1))
    services.queue_message(business, member=member, kind="manual", text="مریم عزیز، جشنواره یلدا در راه است.")
    return member


def on_phone(page, name: str) -> None:
    page.set_viewport_size(PHONE)
    # Chart.js resizes its canvas a moment after the viewport; until then the page is as wide as the desktop chart.
    page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1360, "height": 900})


def test_edit_a_template_with_preview_save_settings_and_open_the_report(page, club, business):
    from vafa.messaging.models import MessageTemplate, MessagingSettings

    sign_in(page, "owner-all")
    page.click("nav a[href='/panel/messaging/']")
    expect(page.locator("h1")).to_have_text("پیام‌رسانی")
    page.click("text=متن پیام‌ها")
    expect(page.locator("[data-testid=template-welcome]")).to_contain_text("خوش‌آمد")
    shot(page, "fa-messaging-templates")
    page.click("[data-testid=template-welcome] a.btn")
    expect(page.locator("[data-testid=preview-fa] [data-testid=preview-text]")).to_contain_text("به باشگاه مشتریان")
    page.fill("[data-testid=text-fa]", "{first_name} عزیز، {amount} هدیه خوش‌آمد {nam}")
    expect(page.locator("[data-testid=preview-fa] [data-testid=preview-error]")).to_contain_text("{nam}")
    page.fill("[data-testid=text-fa]", "{first_name} عزیز، {amount} هدیه خوش‌آمد در حساب شماست.\n{link}")
    expect(page.locator("[data-testid=preview-fa] [data-testid=preview-text]")).to_contain_text(
        "سارا عزیز، ۱۲۰ امتیاز هدیه خوش‌آمد")
    expect(page.locator("[data-testid=preview-fa] [data-testid=preview-size]")).to_contain_text("بخش پیامک")
    page.fill("[data-testid=preview-member]", "۰۹۳۵۱۱۱۲۲۳۳")
    expect(page.locator("[data-testid=preview-fa] [data-testid=preview-text]")).to_contain_text("مریم عزیز، ۱۲۰ امتیاز")
    shot(page, "fa-messaging-template-edit")
    on_phone(page, "fa-messaging-template-edit")
    page.click("[data-testid=save-template]")
    page.wait_for_url("**/panel/messaging/templates/")
    assert MessageTemplate.objects.get(business=business, kind="welcome", language="fa").text.startswith(
        "{first_name} عزیز، {amount}")

    page.click("text=تنظیمات >> nth=-1")
    page.wait_for_url("**/panel/messaging/settings")
    expect(page.locator("[data-testid=credit]")).to_contain_text("کانال آزمایشی")
    page.fill("#id_price_per_part", "۱٬۵۰۰")
    page.fill("#id_quiet_start", "08:30")
    page.fill("#id_sms_api_key", "secret-key-1234")
    page.uncheck("input[name=enabled_kinds][value=birthday]")
    page.click("[data-testid=save-settings]")
    expect(page.locator(".alert-success")).to_be_visible()
    conf = MessagingSettings.objects.get(business=business)
    assert (conf.price_per_part, conf.quiet_start, "birthday" in conf.disabled_kinds) == (1500, "08:30", True)
    expect(page.locator("[data-testid=key-last4]")).to_contain_text("1234")
    assert page.input_value("#id_sms_api_key") == ""
    shot(page, "fa-messaging-settings")
    on_phone(page, "fa-messaging-settings")

    page.goto("/panel/messaging/broadcasts/new")
    page.fill("#id_text", "{first_name} عزیز، جشنواره یلدا!")
    page.click("[data-testid=estimate-button]")
    expect(page.locator("[data-testid=estimate-recipients]")).to_have_text("۱")
    shot(page, "fa-messaging-broadcast")
    on_phone(page, "fa-messaging-broadcast")
    page.click("[data-testid=send-button]")
    page.wait_for_url("**/panel/messaging/")
    expect(page.locator("#table")).to_contain_text("جشنواره یلدا")
    shot(page, "fa-messaging-broadcasts")

    page.goto(f"/panel/members/{club.pk}/")
    expect(page.locator("[data-testid=member-messages]")).to_contain_text("جشنواره یلدا")
    shot(page, "fa-member-messages")

    page.goto("/panel/reports/messages")
    today = format_date(timezone.localdate(), "jalali", "fa")
    page.fill("#f-from", today)
    page.click("form[role=search] button")
    expect(page.locator("[data-testid=row-count]")).to_contain_text("۱")
    expect(page.locator("#table")).to_contain_text("جشنواره یلدا")
    expect(page.locator("#table")).not_to_contain_text("خوش آمدید")
    expect(page).to_have_url(re.compile(r"from="))
    close_date_picker(page)
    shot(page, "fa-report-messages-one-day")
    on_phone(page, "fa-report-messages-one-day")
