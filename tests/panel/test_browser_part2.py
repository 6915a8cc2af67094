"""The back office part 2 in a real browser (Playwright driving Debian's chromium against a live server, SQLite
only): the program editor (an error beside its line, a valid edit, the backtest over the demo's history,
activation, the history diff), vouchers, the gift request queue, gift credit to a tier, the import wizard and
every report filtered by a Jalali date range and exported. Screenshots of every screen go to VAFA_SCREENSHOTS,
in Persian."""

import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pytest
import tests.panel.test_browser as part1
from django.utils import timezone
from playwright.sync_api import expect

from vafa.core.calendar import format_date

OWNER = "demo-owner"
# Part 1's browser, page and helpers: one chromium per module, the same screenshots folder.
pytestmark = part1.pytestmark
browser, page, shot, sign_in, close_date_picker = (part1.browser, part1.page, part1.shot, part1.sign_in,
                                                     part1.close_date_picker)


@pytest.fixture
def demo(transactional_db):
    """The demo café (small): real-looking members, purchases over the last months, and an owner."""
    from django.contrib.auth import get_user_model
    from tests.panel.conftest import PASSWORD

    from vafa.access.services import make_operator
    from vafa.demo.generator import generate_demo

    result = generate_demo(members=60, seed=7)
    user = get_user_model().objects.create_user(OWNER, password=PASSWORD)
    make_operator(result.business, user, role="owner")
    return result.business


def download(page, selector: str) -> list[tuple]:
    with page.expect_download() as done:
        page.click(selector)
    book = openpyxl.load_workbook(io.BytesIO(Path(done.value.path()).read_bytes()))
    return list(book.active.iter_rows(values_only=True))[1:]


def test_program_edit_backtest_activate_and_history(page, demo):
    from vafa.program.selectors import active_program

    before, _ = active_program(demo)
    sign_in(page, OWNER)
    page.goto("/panel/program/")
    expect(page.locator("[data-testid=rules]").first).to_contain_text("به ازای هر ۱۰۰٬۰۰۰ تومان خرید")
    shot(page, "fa-program")
    page.click("[data-testid=edit-program]")
    text = page.input_value("[data-testid=program-yaml]")
    page.fill("[data-testid=program-yaml]", text.replace("per: 100000", "per: 0", 1))
    page.click("[data-testid=check]")
    bad_line = text.splitlines().index(next(line for line in text.splitlines() if "per: 100000" in line)) + 1
    row = page.locator(f"[data-testid=error-line-{bad_line}]")
    expect(row).to_contain_text("per: 0")
    expect(row.locator("[data-testid=error-message]")).to_contain_text("قاعدهٔ ۱")
    expect(row.locator("[data-testid=error-message]")).to_contain_text("← per")
    shot(page, "fa-program-error")
    page.fill("[data-testid=program-yaml]", text.replace("award: 10", "award: 20", 1))
    page.click("[data-testid=backtest]")
    expect(page.locator("[data-testid=backtest-result]")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=backtest-cost]")).to_contain_text("+")
    shot(page, "fa-program-backtest")
    page.click("[data-testid=activate]")
    page.wait_for_url("**/panel/program/")
    after, document = active_program(demo)
    assert after.version == before.version + 1 and document.rules[0].award == 20
    page.goto(f"/panel/program/history?version={after.version}")
    expect(page.locator("[data-testid=diff]")).to_contain_text("+  award: 20")
    shot(page, "fa-program-history")


def test_voucher_with_100_codes_exported(page, demo):
    from vafa.vouchers.models import VoucherCode

    sign_in(page, OWNER)
    page.goto("/panel/rewards/vouchers/")
    page.fill("#id_voucher-name", "جشنواره یلدا")
    page.select_option("#id_voucher-kind", "percent")
    page.fill("#id_voucher-percent", "15")
    page.click("[data-testid=voucher-form] button")
    page.wait_for_url(re.compile(r".*/rewards/vouchers/\d+/$"))
    page.fill("#id_gen-count", "۱۰۰")
    page.click("[data-testid=generate]")
    expect(page.locator("[data-testid=row-count]")).to_contain_text("۱۰۰")
    shot(page, "fa-voucher")
    rows = download(page, "[data-testid=export-xlsx]")
    assert sorted(r[0] for r in rows) == sorted(VoucherCode.objects.filter(business=demo).values_list("code", flat=True))
    assert len(rows) == 100
    page.goto("/panel/rewards/vouchers/")
    shot(page, "fa-vouchers")
    for name in ("gift-cards", "causes"):
        assert page.goto(f"/panel/rewards/{name}/").status == 200
        shot(page, f"fa-{name}")


def test_fulfil_and_reject_gift_requests(page, demo):
    from vafa.catalogue import services as catalogue
    from vafa.catalogue.models import GiftRequest
    from vafa.ledger.selectors import balances
    from vafa.members.balances import adjust
    from vafa.members.models import Member

    gift = catalogue.create_gift(demo, title="ماگ کافه", price_currency="points", price=300, stock=5)
    first, second = Member.objects.filter(business=demo).order_by("pk")[:2]
    for member in (first, second):
        adjust(demo, member.pk, "points", 300, reason="برای هدیه")
    held = balances(second)["points"]["available"]
    one = catalogue.request_gift(demo, first.pk, gift.pk)["id"]
    two = catalogue.request_gift(demo, second.pk, gift.pk)["id"]
    sign_in(page, OWNER)
    page.goto("/panel/rewards/gifts/")
    shot(page, "fa-gifts")
    page.goto("/panel/rewards/requests/")
    shot(page, "fa-gift-requests")
    page.click(f"[data-testid=request-{one}] [data-testid=fulfil]")
    expect(page.locator(f"[data-testid=request-{one}] [data-testid=ship]")).to_be_visible()
    page.fill(f"[data-testid=request-{two}] input[name=note]", "موجودی تمام شد")
    page.click(f"[data-testid=request-{two}] [data-testid=reject]")
    expect(page.locator(f"[data-testid=request-{two}]")).to_have_count(0)
    assert GiftRequest.objects.get(pk=one).status == "fulfilled"
    assert GiftRequest.objects.get(pk=two).status == "rejected"
    assert balances(second)["points"]["available"] == held


def test_grant_gift_credit_to_a_tier(page, demo):
    from vafa.ledger.selectors import balances
    from vafa.members.models import Member

    tier = Member.objects.filter(business=demo).exclude(tier="").values_list("tier", flat=True).first()
    members = list(Member.objects.filter(business=demo, tier=tier, status="active"))
    before = {m.pk: balances(m)["gift_credit"]["available"] for m in members}
    sign_in(page, OWNER)
    page.goto("/panel/rewards/gift-credit")
    page.select_option("#id_grant-who", "tier")
    page.select_option("#id_grant-tier", tier)
    page.fill("#id_grant-amount", "۲۰٬۰۰۰")
    page.fill("#id_grant-reason", "هدیه یلدا")
    shot(page, "fa-gift-credit")
    page.click("[data-testid=grant-form] button")
    expect(page.locator("[role=status]")).to_contain_text(str(len(members)).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")))
    assert all(balances(m)["gift_credit"]["available"] == before[m.pk] + 20_000 for m in members)


def test_import_a_members_file_bad_then_good(page, demo, tmp_path):
    from vafa.members.models import Member

    count = Member.objects.filter(business=demo).count()
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("موبایل,نام\n09390000001,نگار\nabc,رضا\n", encoding="utf-8")
    good.write_text("موبایل,نام\n09390000001,نگار\n09390000002,رضا\n", encoding="utf-8")
    sign_in(page, OWNER)
    for path, ok in ((bad, False), (good, True)):
        page.goto("/panel/import/")
        if not ok:
            shot(page, "fa-import")
        page.select_option("#id_kind", "members")
        page.set_input_files("#id_file", str(path))
        page.click("[data-testid=import-upload] button")
        page.wait_for_url(re.compile(r".*/panel/import/[^/]+/$"))
        page.select_option("#col-mobile", "0")
        page.select_option("#col-first_name", "1")
        page.click("[data-testid=dry-run]")
        if not ok:
            expect(page.locator("[data-testid=problem]")).to_have_count(1)
            expect(page.locator("[data-testid=problem]")).to_contain_text("۳")
            shot(page, "fa-import-problems")
            assert Member.objects.filter(business=demo).count() == count
            continue
        page.click("[data-testid=import-go]")
        expect(page.locator("[data-testid=import-done]")).to_be_visible()
        shot(page, "fa-import-done")
    assert Member.objects.filter(business=demo).count() == count + 2


def test_every_report_filtered_by_jalali_range_and_exported(page, demo):
    from vafa.panel.reports import REPORTS
    from vafa.panel.selectors import members_hold

    today = timezone.localdate()
    start, end = format_date(today - dt.timedelta(days=60), "jalali", "fa"), format_date(today, "jalali", "fa")
    sign_in(page, OWNER)
    page.goto("/panel/reports/")
    shot(page, "fa-reports")
    for report in [*REPORTS, None]:
        slug = report.slug if report else "audit"
        page.goto(f"/panel/reports/{slug}")
        if report is None or report.date_field:
            page.fill("#f-from", start)
            page.fill("#f-to", end)
            page.click("form[role=search] button")
            page.wait_for_url(re.compile(r".*from=.*"))
            expect(page.locator("#table")).to_be_visible()
            close_date_picker(page)
        shown = page.locator("#table tbody tr:not(:has(td[colspan]))").count()
        shot(page, f"fa-report-{slug}")
        rows = download(page, "[data-testid=export-xlsx]")
        if len(rows) <= 25:
            assert len(rows) == shown, slug
        if slug == "accounting":
            assert len(rows) == 61 * len({r[1] for r in rows}) == 61 * 4
            for row in rows:
                opening, earned, reversed_, spent, given_back, expired, other, closing = row[2:]
                assert opening + earned - reversed_ - spent + given_back - expired + other == closing
            for currency in {r[1] for r in rows}:
                last = [r for r in rows if r[1] == currency][-1]
                code = {"Points": "points", "Coins": "coins", "Wallet": "wallet", "Gift credit": "gift_credit",
                        "امتیاز": "points", "سکه": "coins", "کیف پول": "wallet", "اعتبار هدیه": "gift_credit"}.get(currency, currency)
                assert last[-1] == members_hold(demo, code), currency
