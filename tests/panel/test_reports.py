"""The reports (F60) with Django's test client: every report opens for every role that may read, filters by a
Jalali date range, exports exactly the filtered rows, and the points accounting adds up and equals the ledger."""

import datetime as dt
import io

import openpyxl
import pytest
from django.utils import timezone

from vafa.core.calendar import format_date
from vafa.ledger.models import Entry
from vafa.members.balances import adjust
from vafa.panel.reports import BY_SLUG, REPORTS
from vafa.panel.selectors import members_hold

pytestmark = pytest.mark.django_db

SLUGS = [r.slug for r in REPORTS]


def jalali(day: dt.date) -> str:
    return format_date(day, "jalali", "en")


def xlsx_rows(response) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("role", ["owner", "manager", "analyst", "cashier"])
def test_every_report_opens_and_exports(signed_in, member, purchase_at, slug, role):
    purchase_at(member)
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    response = client.get(f"/panel/reports/{slug}")
    if role == "cashier" and BY_SLUG[slug].whole_business:  # rows of no branch: not for a branch-bound cashier
        assert response.status_code == 403 and client.get(f"/panel/reports/{slug}?export=csv").status_code == 403
        return
    assert response.status_code == 200
    assert 'dir="rtl"' in response.content.decode()
    assert client.get(f"/panel/reports/{slug}?export=csv").status_code == 200
    assert client.get(f"/panel/reports/{slug}?export=xlsx").status_code == 200


def test_index_lists_the_audit_log_only_for_admins(signed_in):
    assert "/panel/reports/audit" in signed_in("owner").get("/panel/reports/").content.decode()


def test_analyst_cannot_open_the_audit_log(signed_in):
    client = signed_in("analyst")
    assert "/panel/reports/audit" not in client.get("/panel/reports/").content.decode()
    assert client.get("/panel/reports/audit").status_code == 403


def test_audit_log_shows_a_panel_write(signed_in, member):
    client = signed_in("owner")
    client.post(f"/panel/members/{member.pk}/adjust", {"adjust-currency": "points", "adjust-amount": "5", "adjust-reason": "هدیه"})
    html = client.get("/panel/reports/audit").content.decode()
    assert "POST /panel/members/" in html and "/adjust" in html and "owner-all" in html


def test_unknown_report_is_404(signed_in):
    assert signed_in("owner").get("/panel/reports/nope").status_code == 404


def test_sign_ups_by_jalali_range_export_equals_screen(signed_in, make_member):
    old = make_member(join_source="instagram")
    old.joined_at = timezone.now() - dt.timedelta(days=40)
    old.save(update_fields=["joined_at"])
    make_member(join_source="instagram")
    make_member(join_source="friend")
    today = timezone.localdate()
    client = signed_in("owner")
    query = f"?from={jalali(today - dt.timedelta(days=7))}&to={jalali(today)}"
    html = client.get(f"/panel/reports/sign-ups{query}").content.decode()
    assert "report-chart" in html
    rows = xlsx_rows(client.get(f"/panel/reports/sign-ups{query}&export=xlsx"))
    assert sorted(rows) == [["friend", 1], ["instagram", 1]]
    assert sorted(xlsx_rows(client.get("/panel/reports/sign-ups?export=xlsx"))) == [["friend", 1], ["instagram", 2]]


def test_a_filter_change_swaps_the_chart_with_the_table(signed_in, make_member):
    old = make_member(join_source="website")
    old.joined_at = timezone.now() - dt.timedelta(days=40)
    old.save(update_fields=["joined_at"])
    make_member(join_source="instagram")
    today = timezone.localdate()
    html = signed_in("owner").get(f"/panel/reports/sign-ups?from={jalali(today - dt.timedelta(days=7))}",
                                  HTTP_HX_REQUEST="true", HTTP_HX_TARGET="table").content.decode()
    assert 'id="table"' in html and 'hx-swap-oob="true"' in html
    assert "instagram" in html and "website" not in html


def test_branch_report_keeps_a_cashier_to_their_branch(signed_in, member, purchase_at):
    purchase_at(member, branch="t1", total=100_000)
    purchase_at(member, branch="v2", total=300_000)
    owner_rows = xlsx_rows(signed_in("owner").get("/panel/reports/branches?export=xlsx"))
    assert [r[:3] for r in owner_rows] == [["ونک", 1, 1], ["تجریش", 1, 1]]
    cashier_rows = xlsx_rows(signed_in("cashier", branch="t1").get("/panel/reports/branches?export=xlsx"))
    assert [r[0] for r in cashier_rows] == ["تجریش"]


def test_item_sales_by_sku_and_category(signed_in, member, business):
    from vafa.purchases.services import record_purchase

    lines = [{"sku": "ESP", "name": "Espresso", "category": "coffee", "quantity": 2, "unit_price": 50_000},
             {"sku": "CAKE", "name": "Cake", "category": "food", "quantity": 1, "unit_price": 80_000}]
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="I1", total=180_000, lines=lines)
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="I2", total=100_000, lines=lines[:1])
    client = signed_in("owner")
    assert xlsx_rows(client.get("/panel/reports/items?export=xlsx")) == [
        ["ESP", "Espresso", "coffee", 2, 4, 200_000], ["CAKE", "Cake", "food", 1, 1, 80_000]]
    assert xlsx_rows(client.get("/panel/reports/items?by=category&export=xlsx")) == [["coffee", 2, 4, 200_000],
                                                                                    ["food", 1, 1, 80_000]]


def test_points_accounting_adds_up_and_equals_the_ledger(signed_in, business, member, make_member, purchase_at):
    purchase_at(member, total=1_000_000)  # earns points by the test program
    other = make_member()
    adjust(business, other.pk, "points", 40, reason="هدیه")
    adjust(business, member.pk, "points", -3, reason="اصلاح")
    earned = sum(e.amount for e in Entry.objects.filter(business=business, kind=Entry.Kind.EARN, currency="points"))
    rows = xlsx_rows(signed_in("owner").get("/panel/reports/accounting?currency=points&export=xlsx"))
    assert len(rows) == 30
    for _day, _currency, opening, earn, reverse, spent, given_back, expired, other_flow, closing in rows:
        assert opening + earn - reverse - spent + given_back - expired + other_flow == closing
    assert rows[0][2] == 0
    assert rows[-1][3] == earned and rows[-1][8] == 37
    assert rows[-1][-1] == members_hold(business, "points") == earned + 37
    for before, after in zip(rows, rows[1:], strict=False):
        assert after[2] == before[-1]


def test_points_accounting_refuses_a_bad_date_and_writes_nothing(signed_in):
    html = signed_in("owner").get("/panel/reports/accounting?from=nonsense").content.decode()
    assert "nonsense" in html


def test_a_list_filter_with_nothing_to_list_yet_is_still_a_list(signed_in):
    """A business that has sent no message has no kinds to offer: the messages report's kind filter is still a list
    (only "all"), not an empty free-text box a shop owner would have to guess codes for."""
    page = signed_in("owner").get("/panel/reports/messages").content.decode()
    assert '<select class="form-select" id="f-kind" name="kind"><option value="">' in page
    assert '<input class="form-control" id="f-kind"' not in page
