"""Messaging in the back office with Django's test client: the API's roles on every screen, forms through the
messaging services (bad input writes nothing, errors beside the fields, in Persian and English), the template
preview, broadcasts, a member's messages and the messages-sent report whose export equals the filtered screen."""

import datetime as dt
import io

import openpyxl
import pytest
from django.utils import timezone

from vafa.core.calendar import format_date
from vafa.messaging import secrets, services
from vafa.messaging.models import Broadcast, Message, MessageTemplate, MessagingSettings

pytestmark = pytest.mark.django_db

ADMIN_SCREENS = ["/panel/messaging/settings", "/panel/messaging/templates/", "/panel/messaging/templates/welcome",
                 "/panel/messaging/broadcasts/new", "/panel/messaging/settings/credit"]
READ_SCREENS = ["/panel/messaging/", "/panel/reports/messages"]


@pytest.fixture(autouse=True)
def _own_messages_file(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def settings_form(**changes) -> dict:
    """The settings form as the page fills it for a business with the defaults, with some fields changed."""
    return {"sms_provider": "none", "sms_api_key": "", "sms_sender": "", "sms_service_sender": "",
            "price_per_part": "0", "quiet_start": "09:00", "quiet_end": "21:00", "opt_out_word": "لغو",
            "admin_mobile": "", "email_from": "", "birthday_on": "day", "otp_template": "",
            "enabled_kinds": list(services.templates.TRANSACTIONAL_KINDS + services.templates.INFORMATIONAL_KINDS),
            "holidays": "", "expiry_reminder_days": "7", "email_channel": "off", **changes}


def rows_of(model) -> list:
    return sorted(map(repr, model.objects.values_list()))


# --- roles --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["owner", "manager"])
def test_owner_and_manager_open_every_messaging_screen(signed_in, member, role):
    client = signed_in(role)
    for path in ADMIN_SCREENS + READ_SCREENS + [f"/panel/messaging/members/{member.pk}"]:
        assert client.get(path).status_code == 200, path
    nav = client.get("/panel/").content.decode()
    assert 'href="/panel/messaging/"' in nav


def test_analyst_reads_the_sms_panel_and_report_but_no_admin_screen(signed_in, member):
    client = signed_in("analyst")
    for path in READ_SCREENS:
        assert client.get(path).status_code == 200, path
    page = client.get("/panel/messaging/").content.decode()
    assert "/panel/messaging/settings" not in page and "/panel/messaging/broadcasts/new" not in page
    for path in ADMIN_SCREENS:
        assert client.get(path).status_code == 403, path
    before = rows_of(MessagingSettings), rows_of(MessageTemplate), rows_of(Broadcast), rows_of(Message)
    assert client.post("/panel/messaging/settings", settings_form(sms_provider="file")).status_code == 403
    assert client.post("/panel/messaging/templates/welcome", {"text_fa": "سلام", "text_en": "Hi"}).status_code == 403
    assert client.post("/panel/messaging/broadcasts/new", {"text": "x", "action": "send"}).status_code == 403
    assert client.post("/panel/messaging/settings/test", {"test-mobile": "09121234567"}).status_code == 403
    assert (rows_of(MessagingSettings), rows_of(MessageTemplate), rows_of(Broadcast), rows_of(Message)) == before


def test_a_cashier_has_no_messaging_screen(signed_in, member):
    client = signed_in("cashier", branch="t1")
    for path in ADMIN_SCREENS + READ_SCREENS:
        assert client.get(path).status_code == 403, path
    before = rows_of(MessagingSettings), rows_of(Broadcast)
    assert client.post("/panel/messaging/settings", settings_form(sms_provider="file")).status_code == 403
    assert client.post("/panel/messaging/broadcasts/new", {"text": "x", "action": "send"}).status_code == 403
    assert (rows_of(MessagingSettings), rows_of(Broadcast)) == before
    home = client.get("/panel/").content.decode()
    assert 'href="/panel/messaging/"' not in home
    assert "/panel/reports/messages" not in client.get("/panel/reports/").content.decode()


def test_the_screens_in_english(signed_in, member):
    client = signed_in("manager")
    client.post("/panel/language", {"language": "en"})
    expected = {"/panel/messaging/": ">SMS panel<", "/panel/messaging/templates/": "Welcome to the",
                "/panel/messaging/settings": "Price of one SMS part", "/panel/reports/messages": ">Messages sent<",
                "/panel/messaging/broadcasts/new": "Who receives it"}
    for path, text in expected.items():
        html = client.get(path).content.decode()
        assert 'dir="ltr"' in html and text in html, path


# --- settings -----------------------------------------------------------------------------------------------------

def test_settings_save_through_the_service_and_the_key_is_write_only(signed_in, business):
    client = signed_in("owner")
    response = client.post("/panel/messaging/settings", settings_form(
        sms_provider="file", sms_api_key="abcdef123456WXYZ", sms_sender="۲۰۰۰۶۶۰۱۱۰", price_per_part="۱٬۲۰۰",
        quiet_start="08:30", quiet_end="۲۲:۰۰", admin_mobile="۰۹۱۲۳۳۳۴۴۵۵",
        enabled_kinds=["welcome", "points_earned"], holidays="۱/۱ نوروز | Nowruz\n9/30 یلدا"))
    assert response.status_code == 302
    conf = MessagingSettings.objects.get(business=business)
    assert (conf.sms_provider, conf.sms_sender, conf.price_per_part, conf.quiet_start, conf.quiet_end) == \
        ("file", "2000660110", 1200, "08:30", "22:00")
    assert conf.admin_mobile == "+989123334455" and secrets.decrypt(conf.sms_api_key_encrypted) == "abcdef123456WXYZ"
    assert "welcome" not in conf.disabled_kinds and "birthday" in conf.disabled_kinds
    assert conf.holidays == [{"month": 1, "day": 1, "name_fa": "نوروز", "name_en": "Nowruz"},
                             {"month": 9, "day": 30, "name_fa": "یلدا", "name_en": "یلدا"}]
    html = client.get("/panel/messaging/settings").content.decode()
    assert "abcdef123456WXYZ" not in html and "WXYZ" in html and "۱٬۲۰۰" in html
    # The reminder lead time and the email channel, in Persian digits as typed.
    client.post("/panel/messaging/settings", settings_form(sms_provider="file", price_per_part="1200",
                                                           expiry_reminder_days="۱۰", email_channel="also"))
    conf.refresh_from_db()
    assert (conf.expiry_reminder_days, conf.email_channel) == (10, "also")
    # An empty key field keeps the stored key.
    client.post("/panel/messaging/settings", settings_form(sms_provider="file", price_per_part="1200"))
    conf.refresh_from_db()
    assert secrets.decrypt(conf.sms_api_key_encrypted) == "abcdef123456WXYZ"


@pytest.mark.parametrize("language, expected", [("fa", "ساعت‌ها را به شکل"), ("en", "give start and end as HH:MM")])
def test_bad_settings_write_nothing_and_show_errors_beside_the_fields(signed_in, business, language, expected):
    client = signed_in("owner")
    client.post("/panel/language", {"language": language})
    before = rows_of(MessagingSettings)
    response = client.post("/panel/messaging/settings", settings_form(
        sms_provider="file", quiet_start="25:00", admin_mobile="12", sms_api_key="bad key!", holidays="13/40 x"))
    assert response.status_code == 422
    html = response.content.decode()
    for field in ("quiet_start", "admin_mobile", "sms_api_key", "holidays"):
        assert f'data-testid="error-{field}"' in html, field
    assert expected in html
    assert rows_of(MessagingSettings) == before


def test_test_send_goes_through_the_configured_channel(signed_in, business):
    from tests.messaging.conftest import sent_lines

    services.update_settings(business, sms_provider="file")
    client = signed_in("owner")
    response = client.post("/panel/messaging/settings/test", {"test-mobile": "۰۹۱۲۱۱۱۲۲۳۳", "test-text": "سلام"},
                           follow=True)
    assert "پیام آزمایشی به سرویس پیامک تحویل شد: رسید" in response.content.decode()
    assert [line["to"] for line in sent_lines("test")] == ["+989121112233"]


def test_test_send_without_a_provider_says_so(signed_in, business):
    response = signed_in("owner").post("/panel/messaging/settings/test", {"test-mobile": "09121112233"}, follow=True)
    assert "سرویس پیامک تنظیم نشده است" in response.content.decode()
    assert not Message.objects.exists()


def test_provider_credit_from_kavenegar(signed_in, business, monkeypatch):
    from tests.messaging.fake_kavenegar import API_KEY, FakeKavenegar

    with FakeKavenegar() as fake:
        monkeypatch.setenv("VAFA_KAVENEGAR_URL", fake.url)
        services.update_settings(business, sms_provider="kavenegar", sms_api_key=API_KEY)
        html = signed_in("owner").get("/panel/messaging/settings/credit").content.decode()
    assert "۱۲۵٬۰۰۰" in html and 'data-testid="credit"' in html


# --- templates ----------------------------------------------------------------------------------------------------

def test_template_list_shows_every_kind_in_both_languages(signed_in):
    html = signed_in("owner").get("/panel/messaging/templates/").content.decode()
    for kind in services.templates.KINDS:
        assert f'data-testid="template-{kind}"' in html
    assert "به باشگاه مشتریان" in html and "Welcome to the" in html


def test_template_save_changes_only_the_edited_language(signed_in, business):
    client = signed_in("owner")
    response = client.post("/panel/messaging/templates/welcome", {
        "text_fa": "{first_name} جان، خوش آمدی! {link}", "text_en": services.templates.DEFAULTS["welcome"]["en"]})
    assert response.status_code == 302
    assert list(MessageTemplate.objects.values_list("kind", "language", "text")) == [
        ("welcome", "fa", "{first_name} جان، خوش آمدی! {link}")]


@pytest.mark.parametrize("language, expected", [("fa", "متغیر ناشناخته در متن: nam"),
                                                ("en", "has an unknown variable: nam")])
def test_unknown_variable_is_an_error_beside_the_field(signed_in, language, expected):
    client = signed_in("owner")
    client.post("/panel/language", {"language": language})
    response = client.post("/panel/messaging/templates/welcome", {"text_fa": "سلام {nam}", "text_en": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="error-text_fa"' in html and expected in html
    assert not MessageTemplate.objects.exists()


def test_unknown_template_kind_is_404(signed_in):
    assert signed_in("owner").get("/panel/messaging/templates/nope").status_code == 404


def test_preview_in_persian_digits_with_parts_and_cost(signed_in, business, member):
    services.update_settings(business, price_per_part=1500)
    client = signed_in("owner")
    html = client.get("/panel/messaging/preview", {"lang": "fa", "text_fa": "{first_name} عزیز، {amount} — {date}"}
                      ).content.decode()
    assert "سارا عزیز، ۱۲۰ امتیاز" in html
    assert "۱۴" in html  # a Jalali year, in Persian digits
    assert "۱ " in html and "۱٬۵۰۰ تومان" in html
    long = client.get("/panel/messaging/preview", {"lang": "fa", "text_fa": "ب" * 71}).content.decode()
    assert "۲ " in long and "۳٬۰۰۰ تومان" in long  # 71 Persian characters: two parts
    for_member = client.get("/panel/messaging/preview", {"lang": "fa", "text_fa": "{first_name}",
                                                         "member": "۰۹۱۲۱۲۳۴۵۶۷"}).content.decode()
    assert "علی" in for_member
    bad = client.get("/panel/messaging/preview", {"lang": "fa", "text_fa": "{nam} {first_name}"}).content.decode()
    assert 'data-testid="preview-error"' in bad and "{nam}" in bad


# --- broadcasts ---------------------------------------------------------------------------------------------------

def test_broadcast_estimate_writes_nothing_then_send_schedules_it(signed_in, business, make_member):
    services.update_settings(business, price_per_part=1000)
    for i in range(3):
        make_member(mobile=f"0935111220{i}", first_name="مریم")
    client = signed_in("owner")
    form = {"text": "{first_name} عزیز، جشنواره یلدا!", "promotional": "on", "send_date": "", "send_time": ""}
    response = client.post("/panel/messaging/broadcasts/new", form | {"action": "estimate"})
    html = response.content.decode()
    assert response.status_code == 200 and not Broadcast.objects.exists()
    assert 'data-testid="estimate-recipients">۳<' in html and "مریم عزیز، جشنواره یلدا" in html
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post("/panel/messaging/broadcasts/new", form | {
        "action": "send", "send_date": format_date(tomorrow, "jalali", "fa"), "send_time": "۱۰:۳۰"})
    assert response.status_code == 302
    row = Broadcast.objects.get()
    assert row.recipients == 3 and row.promotional
    assert timezone.localtime(row.send_at, timezone.get_fixed_timezone(210)).strftime("%H:%M") == "10:30"
    assert "۳" in client.get("/panel/messaging/").content.decode()


def test_broadcast_bad_input_writes_nothing(signed_in, business):
    response = signed_in("owner").post("/panel/messaging/broadcasts/new", {
        "text": "{nam}", "send_date": "not a day", "spend_min": "abc", "action": "send"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="error-spend_min"' in html
    assert not Broadcast.objects.exists()
    response = signed_in("manager").post("/panel/messaging/broadcasts/new", {
        "text": "{nam}", "send_date": "1403/13/01", "action": "send"})
    html = response.content.decode()
    assert 'data-testid="error-text"' in html and 'data-testid="error-send_date"' in html
    assert not Broadcast.objects.exists()


# --- a member's messages and the report -------------------------------------------------------------------------

def test_member_page_shows_the_members_messages(signed_in, business, member, make_member):
    other = make_member(mobile="09350000000", first_name="دیگری")
    services.queue_message(business, member=member, kind="manual", text="پیام برای علی")
    services.queue_message(business, member=other, kind="manual", text="پیام برای دیگری")
    client = signed_in("owner")
    assert f"/panel/messaging/members/{member.pk}" in client.get(f"/panel/members/{member.pk}/").content.decode()
    html = client.get(f"/panel/messaging/members/{member.pk}").content.decode()
    assert "پیام برای علی" in html and "پیام برای دیگری" not in html and "ارسال دستی" in html


def xlsx_rows(response) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_messages_report_export_equals_the_filtered_screen(signed_in, business, member):
    today = timezone.now()
    old = today - dt.timedelta(days=40)
    services.queue_message(business, member=member, kind="welcome", text="متن-قدیمی", at=old)
    sent = services.queue_message(business, member=member, kind="manual", text="امروز ۱")
    services.queue_message(business, member=member, kind="manual", text="امروز ۲")
    Message.objects.filter(pk=sent.pk).update(state="delivered")
    services.queue_message(business, member=member, kind="manual", text="متن-ایمیل", channel="email", to="a@b.example")
    client = signed_in("analyst")
    start = format_date(timezone.localdate() - dt.timedelta(days=7), "jalali", "fa")
    query = {"from": start, "kind": "manual", "channel": "sms"}
    html = client.get("/panel/reports/messages", query).content.decode()
    assert "امروز ۱" in html and "امروز ۲" in html and "متن-قدیمی" not in html and "متن-ایمیل" not in html
    assert 'id="report-chart-data"' in html
    rows = xlsx_rows(client.get("/panel/reports/messages", query | {"export": "xlsx"}))
    assert sorted(r[8] for r in rows) == ["امروز ۱", "امروز ۲"]
    delivered = xlsx_rows(client.get("/panel/reports/messages", query | {"state": "delivered", "export": "xlsx"}))
    assert [r[8] for r in delivered] == ["امروز ۱"]
    assert "امروز ۲" not in client.get("/panel/reports/messages", query | {"state": "delivered"}).content.decode()


def test_messages_report_chart_counts_per_jalali_day(signed_in, business, member):
    from vafa.panel.reports import MessagesReport

    services.queue_message(business, member=member, kind="manual", text="a", at=timezone.now() - dt.timedelta(days=2))
    services.queue_message(business, member=member, kind="manual", text="b")
    services.queue_message(business, member=member, kind="manual", text="c")
    client = signed_in("owner")
    response = client.get("/panel/reports/messages")
    chart = response.context["chart"]
    assert chart["values"] == [1, 2] and chart["labels"][-1] == format_date(
        timezone.localdate(timezone=timezone.get_fixed_timezone(210)), "jalali", "fa")
    assert MessagesReport.whole_business
