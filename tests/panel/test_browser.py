"""The back office in a real browser: Playwright driving Debian's chromium against a live server, on SQLite
(one database, as DEVELOPERS.md says of long tests). Screenshots of every screen go to VAFA_SCREENSHOTS
(default test-screenshots/), in Persian, and the dashboard also in English."""

import io
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect
from tests.conftest import ON_POSTGRES
from tests.panel.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/test installs it)"),
    pytest.mark.skipif(ON_POSTGRES, reason="browser tests run on SQLite only"),
]
SHOTS = Path(os.environ.get("VAFA_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "test-screenshots")

# Playwright's sync API runs an event loop in this thread; Django refuses database calls from a thread with a
# running loop unless told the calls are deliberate (they are: the test sets data up between browser steps).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page, username: str) -> None:
    page.goto("/panel/login")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit], form button")
    page.wait_for_url(re.compile(r".*/panel/$"))


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def close_date_picker(page) -> None:
    """The picker shows itself again 300 ms after it opens (its transition), so a click that closes it sooner is
    undone; wait that out, then close it with its own hide()."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(400)
    page.evaluate("document.querySelector('jdp-overlay') && jalaliDatepicker.hide()")
    expect(page.locator("jdp-overlay")).to_be_hidden()


def test_setup_wizard_creates_a_cafe_program_and_its_printable_table(page, operator, business, transactional_db):
    from vafa.program.selectors import active_program

    operator("owner")
    sign_in(page, "owner-all")
    page.goto("/panel/setup/")
    page.click("[data-testid=kind-cafe]")
    page.fill("#id_monthly_budget", "۳٬۰۰۰٬۰۰۰")
    page.click("[data-testid=activate]")
    page.wait_for_url("**/panel/setup/handbook")
    assert "۱۰۰ امتیاز = ۱۰٬۰۰۰ تومان" in page.text_content("[data-testid=loyalty-table]")
    assert "نوشیدنی رایگان" in page.text_content("[data-testid=handbook]")
    assert [rule.kind for rule in active_program(business)[1].rules] == ["earn", "stamp"]


def test_member_search_in_persian_digits_then_adjust_with_reason(page, operator, make_member, transactional_db):
    operator("owner")
    target = make_member(mobile="09351112233", first_name="مریم", last_name="احمدی")
    make_member(mobile="09127778899", first_name="سارا", last_name="<b>bold</b><script>window.hacked=1</script>")
    sign_in(page, "owner-all")
    page.goto("/panel/members/")
    assert "<b>bold</b>" in page.text_content("#table")  # user-entered HTML shows as text
    assert page.evaluate("window.hacked") is None
    page.fill("[data-testid=search]", "۰۹۳۵۱۱۱۲۲۳۳")
    page.keyboard.press("Enter")
    expect(page.locator("#table")).not_to_contain_text("سارا")  # no eval: the pages' CSP forbids it
    page.click(f"a[href='/panel/members/{target.pk}/'] >> nth=0")
    page.wait_for_url(f"**/panel/members/{target.pk}/")
    assert page.text_content("[data-testid=member-mobile]") == "۰۹۳۵۱۱۱۲۲۳۳"
    page.select_option("#id_adjust-currency", "points")
    page.fill("#id_adjust-amount", "۲۵۰")
    page.fill("#id_adjust-reason", "جبران سفارش دیرکرد")
    page.click("[data-testid=adjust-submit]")
    page.wait_for_selector("text=انجام شد.")
    assert page.text_content("[data-testid=balance-points]").strip() == "۲۵۰"
    ledger = page.text_content("[data-testid=ledger]")
    assert "جبران سفارش دیرکرد" in ledger and "\u2066+۲۵۰\u2069" in ledger


def test_issue_replace_and_print_a_card(page, operator, member, transactional_db):
    operator("owner")
    sign_in(page, "owner-all")
    page.goto(f"/panel/members/{member.pk}/")
    page.click("text=صدور کارت")
    page.wait_for_selector("text=کارت صادر شد.")
    first = page.text_content("[data-testid=card-number]")
    page.click("button:has-text('المثنی')")
    page.wait_for_selector("text=کارت المثنی صادر شد")
    assert page.locator("[data-testid=card-row]").count() == 2
    with page.expect_popup() as popup:
        page.locator("[data-testid=card-row]").first.locator("text=چاپ").click()
    card = popup.value
    card.wait_for_selector("[data-testid=printable-card] svg")
    assert "علی رضایی" in card.text_content("[data-testid=printable-card]")
    shot(card, "member-card")
    assert first  # the first card's number was shown before the replacement


def test_a_cards_form_sent_twice_is_one_card_and_a_refused_edit_writes_nothing(page, operator, member,
                                                                                transactional_db):
    """The member use cases from the screen: the card form carries its page's key (the same form sent again is
    the first card, one audit row); a refused profile edit shows its error and writes nothing."""
    from vafa.access.models import AuditEvent
    from vafa.members.models import Card

    operator("owner")
    sign_in(page, "owner-all")
    page.goto(f"/panel/members/{member.pk}/")
    form = page.locator("form[action$='/cards/issue']")
    data = {"csrfmiddlewaretoken": form.locator("[name=csrfmiddlewaretoken]").input_value(),
            "key": form.locator("[name=key]").input_value()}
    form.locator("button").click()
    expect(page.locator("[data-testid=card-row]")).to_have_count(1)
    again = page.request.post(f"/panel/members/{member.pk}/cards/issue", form=data)  # the same page's form again
    assert again.ok and Card.objects.filter(member=member).count() == 1
    assert list(AuditEvent.objects.values_list("operation", "channel")) == [("card.issue", "panel")]
    page.goto(f"/panel/members/{member.pk}/edit")
    page.fill("#id_email", "nope")
    page.click("form.card button.btn-success")
    expect(page.locator("text=ایمیل معتبر نیست")).to_be_visible()
    shot(page, "member-edit-refused")
    member.refresh_from_db()
    assert member.email != "nope" and AuditEvent.objects.count() == 1


def test_create_and_revoke_an_api_key(page, operator, transactional_db):
    operator("owner")
    sign_in(page, "owner-all")
    page.goto("/panel/settings/keys")
    page.fill("#id_name", "صندوق شعبه")
    page.click("[data-testid=create-key]")
    key = page.text_content("[data-testid=new-key]").strip()
    assert key.startswith("vk_")
    shot(page, "settings-keys-created")
    page.reload()
    assert key not in page.content()  # shown once
    page.click("[data-testid=revoke]")
    page.wait_for_selector("[data-testid=revoked]")
    from vafa.access.services import principal_for_key

    assert principal_for_key(key) is None


def test_english_switch_and_persian_page_digits_and_jalali(page, operator, member, transactional_db):
    from zoneinfo import ZoneInfo

    from vafa.core.calendar import format_date

    operator("owner")
    sign_in(page, "owner-all")
    page.goto(f"/panel/members/{member.pk}/")
    jalali = format_date(member.joined_at.astimezone(ZoneInfo("Asia/Tehran")).date(), "jalali", "fa")
    assert jalali in page.text_content("body") and jalali.startswith("۱۴")
    assert page.get_attribute("html", "dir") == "rtl"
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("html[lang=en]")
    assert page.get_attribute("html", "dir") == "ltr"
    body = page.text_content("body")
    assert "Ledger: every entry with its reason" in body and "دفتر حساب" not in body and "09121234567" in body


def test_xlsx_export_of_a_filtered_member_list(page, operator, make_member, transactional_db):
    operator("owner")
    for i in range(3):
        make_member(first_name=f"اینستا{i}", join_source="instagram")
    make_member(first_name="حضوری", join_source="walk-in")
    sign_in(page, "owner-all")
    page.goto("/panel/members/")
    page.select_option("#f-source", "instagram")
    page.wait_for_url(re.compile(r".*source=instagram.*"))
    expect(page.locator("#table")).not_to_contain_text("حضوری")
    shown = page.locator("#table tbody tr").count()
    with page.expect_download() as download:
        page.click("[data-testid=export-xlsx]")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = list(book.active.iter_rows(values_only=True))[1:]
    assert shown == len(rows) == 3
    assert sorted(row[1] for row in rows) == ["اینستا0", "اینستا1", "اینستا2"]


def test_invited_cashier_sees_one_branch_and_analyst_submits_nothing(page, operator, member, purchase_at,
                                                                      transactional_db):
    from vafa.tenancy.models import Branch

    purchase_at(member, "t1", 100_000)
    purchase_at(member, "v2", 777_000)
    operator("owner")
    operator("analyst", username="ana")
    sign_in(page, "owner-all")
    page.goto("/panel/settings/operators")
    page.fill("#id_username", "kasra")
    page.select_option("#id_role", "cashier")
    page.check(f"#br-{Branch.objects.get(code='t1').pk}")
    page.click("main form button:has-text('افزودن')")
    link = page.text_content("[data-testid=invite-link]").strip()
    page.click("nav.sidebar button:has-text('خروج')")
    page.goto(link)
    page.fill("#id_new_password1", PASSWORD)
    page.fill("#id_new_password2", PASSWORD)
    page.click("main form button")
    page.wait_for_url("**/panel/login")
    sign_in(page, "kasra")
    page.goto("/panel/purchases/")
    table = page.text_content("#table")
    assert "۱۰۰٬۰۰۰" in table and "۷۷۷٬۰۰۰" not in table
    assert "تنظیمات" not in page.text_content("nav.sidebar")
    assert page.goto("/panel/settings/").status == 403
    page.goto("/panel/")
    page.click("nav.sidebar button:has-text('خروج')")
    sign_in(page, "ana")
    page.goto(f"/panel/members/{member.pk}/")
    assert page.locator("main form[method=post]").count() == 0  # no form to submit


def test_screenshots_of_every_screen(page, operator, transactional_db, settings):
    """The demo café (small) gives the screens realistic data; each screen is captured in Persian."""
    from vafa.access.services import make_operator
    from vafa.demo.generator import generate_demo
    from vafa.members.models import Member
    from vafa.purchases.models import Purchase

    result = generate_demo(members=60, seed=7)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("demo-owner", password=PASSWORD)
    make_operator(result.business, user, role="owner")
    member = Member.objects.filter(business=result.business, purchases__isnull=False).first()
    purchase = Purchase.objects.filter(business=result.business).first()
    page.goto("/panel/login")
    shot(page, "login")
    sign_in(page, "demo-owner")
    for name, path in [("dashboard", "/panel/"), ("members", "/panel/members/"),
                       ("member-new", "/panel/members/new"), ("member", f"/panel/members/{member.pk}/"),
                       ("member-edit", f"/panel/members/{member.pk}/edit"), ("purchases", "/panel/purchases/"),
                       ("purchase", f"/panel/purchases/{purchase.pk}/"), ("settings", "/panel/settings/"),
                       ("settings-branches", "/panel/settings/branches"),
                       ("settings-operators", "/panel/settings/operators"), ("settings-keys", "/panel/settings/keys"),
                       ("settings-webhooks", "/panel/settings/webhooks"), ("setup", "/panel/setup/"),
                       ("handbook", "/panel/setup/handbook")]:
        assert page.goto(path).status == 200, path
        shot(page, f"fa-{name}")
    page.click("[data-testid=lang-en]")
    page.wait_for_selector("html[lang=en]")
    page.goto("/panel/")
    shot(page, "en-dashboard")
    assert (SHOTS / "fa-dashboard.png").stat().st_size > 10_000
