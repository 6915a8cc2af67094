"""The panel's screens with Django's test client: every screen renders, roles are the API's, forms write
through the services and bad input writes nothing."""

import io
import re

import openpyxl
import pytest
from django.http import HttpResponse
from tests.panel.conftest import PASSWORD

from vafa.access.models import ApiKey, AuditEvent, Operator, Scope
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances
from vafa.members.models import Card, Member
from vafa.panel.auth import panel_view
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch

pytestmark = pytest.mark.django_db

SCREENS = ["/panel/", "/panel/members/", "/panel/members/new", "/panel/purchases/", "/panel/settings/",
           "/panel/settings/branches", "/panel/settings/operators", "/panel/settings/keys", "/panel/settings/webhooks",
           "/panel/settings/woocommerce", "/panel/rewards/plans/", "/panel/rewards/plans/new", "/panel/rewards/causes/"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_post_that_writes_nothing_writes_no_audit_row(rf, operator, dry_run):
    """The screens' fallback audit row (panel.post) is for a change; a view whose POSTs are dry runs makes none."""
    view = panel_view(Scope.READ, post_writes_nothing=dry_run)(lambda request: HttpResponse("ok"))
    request = rf.post("/panel/anything")
    request.user = operator("manager").user
    assert view(request).status_code == 200
    assert AuditEvent.objects.filter(operation="panel.post").count() == (0 if dry_run else 1)


def test_signed_out_goes_to_login(client):
    response = client.get("/panel/members/")
    assert response.status_code == 302 and response["Location"].startswith("/panel/login?next=/panel/members/")


def test_login_with_operator_account(client, operator):
    operator("owner")
    response = client.post("/panel/login", {"username": "owner-all", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/panel/"
    assert client.get("/panel/").status_code == 200


def test_login_wrong_password_is_refused(client, operator):
    operator("owner")
    response = client.post("/panel/login", {"username": "owner-all", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", SCREENS)
def test_owner_opens_every_screen_in_persian(signed_in, member, path):
    response = signed_in("owner").get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'dir="rtl"' in html and 'lang="fa"' in html


def test_member_page_shows_persian_digits_and_jalali_date(signed_in, member):
    html = signed_in("owner").get(f"/panel/members/{member.pk}/").content.decode()
    assert "+98" not in html  # the local spelling people use
    assert "۰۹۱۲۱۲۳۴۵۶۷" in html
    from zoneinfo import ZoneInfo

    from vafa.core.calendar import format_date

    assert format_date(member.joined_at.astimezone(ZoneInfo("Asia/Tehran")).date(), "jalali", "fa") in html


def test_english_switch_is_stored_per_operator(signed_in, member):
    client = signed_in("owner")
    response = client.post("/panel/language", {"language": "en", "next": "/panel/members/"})
    assert response.status_code == 302 and response["Location"] == "/panel/members/"
    assert Operator.objects.get(user__username="owner-all").language == "en"
    html = client.get("/panel/members/").content.decode()
    assert 'dir="ltr"' in html and ">Members<" in html and "09121234567" in html


def test_persian_labels_come_from_the_catalogue(signed_in):
    html = signed_in("owner").get("/panel/members/").content.decode()
    assert "اعضا" in html and "جستجو" in html


def test_search_by_mobile_in_persian_digits(signed_in, make_member):
    target = make_member(mobile="09351112233", first_name="مریم")
    make_member(mobile="09351112299", first_name="سارا")
    html = signed_in("owner").get("/panel/members/", {"q": "۰۹۳۵۱۱۱۲۲۳۳"}).content.decode()
    assert f"/panel/members/{target.pk}/" in html and "سارا" not in html


def test_search_by_card_number(signed_in, member, business):
    from vafa.members.services import CardIssue, issue_card

    card = issue_card(business, CardIssue.check(member.pk)).card
    html = signed_in("owner").get("/panel/members/", {"q": card.number}).content.decode()
    assert f"/panel/members/{member.pk}/" in html


def test_htmx_request_gets_only_the_table(signed_in, member):
    response = signed_in("owner").get("/panel/members/", {"q": "علی"}, HTTP_HX_REQUEST="true",
                                      HTTP_HX_TARGET="table")
    html = response.content.decode()
    assert html.startswith('<div id="table"') and "<html" not in html


def test_xlsx_export_has_exactly_the_filtered_rows(signed_in, make_member):
    for i in range(3):
        make_member(first_name=f"gold{i}", join_source="instagram")
    make_member(first_name="=cmd()", join_source="instagram")
    make_member(first_name="other", join_source="walk-in")
    response = signed_in("owner").get("/panel/members/", {"source": "instagram", "export": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 4
    names = sorted(row[1] for row in rows[1:])
    assert names == ["'=cmd()", "gold0", "gold1", "gold2"]  # a formula is neutralised


def test_csv_export_of_filtered_purchases(signed_in, member, purchase_at):
    purchase_at(member, "t1", 100_000)
    purchase_at(member, "v2", 300_000)
    branch = Branch.objects.get(code="v2")
    response = signed_in("owner").get("/panel/purchases/", {"branch": branch.pk, "export": "csv"})
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == 2 and "300000" in lines[1]


def test_adjust_balance_writes_through_the_ledger_with_reason(signed_in, member):
    client = signed_in("owner")
    response = client.post(f"/panel/members/{member.pk}/adjust",
                           {"adjust-currency": "points", "adjust-amount": "۱۵۰", "adjust-reason": "جبران تاخیر"})
    assert response.status_code == 302
    entry = Entry.objects.get(member=member, kind="adjust")
    assert entry.amount == 150 and entry.reason == "جبران تاخیر" and entry.actor_label == "owner-all"
    assert "جبران تاخیر" in client.get(f"/panel/members/{member.pk}/").content.decode()


def test_bad_adjustment_writes_nothing_and_shows_error_beside_the_field(signed_in, member):
    response = signed_in("owner").post(f"/panel/members/{member.pk}/adjust",
                                       {"adjust-currency": "points", "adjust-amount": "-500",
                                        "adjust-reason": "too much"})
    assert response.status_code == 422
    assert Entry.objects.filter(member=member).count() == 0
    assert 'data-testid="error-' in response.content.decode() or "موجودی کافی نیست" in response.content.decode()


def test_missing_reason_is_a_field_error(signed_in, member):
    response = signed_in("owner").post(f"/panel/members/{member.pk}/adjust",
                                       {"adjust-currency": "points", "adjust-amount": "10", "adjust-reason": ""})
    assert response.status_code == 422 and 'data-testid="error-reason"' in response.content.decode()
    assert not Entry.objects.filter(member=member).exists()


def test_cashier_cannot_adjust_but_can_convert_scope(signed_in, member):
    response = signed_in("cashier", branch="t1").post(
        f"/panel/members/{member.pk}/adjust", {"adjust-currency": "points", "adjust-amount": "10",
                                               "adjust-reason": "x"})
    assert response.status_code == 403 and not Entry.objects.exists()


def test_grant_gift_credit(signed_in, member):
    signed_in("manager").post(f"/panel/members/{member.pk}/grant",
                              {"grant-amount": "50,000", "grant-reason": "تولد"})
    assert balances(member)["gift_credit"]["available"] == 50_000


def test_sign_up_member_and_duplicate_mobile(signed_in):
    client = signed_in("cashier", branch="t1")
    response = client.post("/panel/members/new", {"mobile": "۰۹۱۲۵۵۵۶۶۷۷", "first_name": "نرگس", "gender": "",
                                                  "join_source": "instagram"})
    member = Member.objects.get(first_name="نرگس")
    assert response["Location"] == f"/panel/members/{member.pk}/" and member.mobile == "+989125556677"
    again = client.post("/panel/members/new", {"mobile": "09125556677", "first_name": "دیگری", "gender": ""})
    assert again.status_code == 200 and "قبلاً عضو شده" in again.content.decode()
    assert Member.objects.count() == 1


def test_edit_profile_escapes_html(signed_in, member):
    client = signed_in("owner")
    client.post(f"/panel/members/{member.pk}/edit", {"mobile": member.mobile, "first_name": "<script>alert(1)</script>",
                                                      "last_name": "", "gender": ""})
    member.refresh_from_db()
    assert member.first_name == "<script>alert(1)</script>"
    html = client.get("/panel/members/").content.decode() + client.get(f"/panel/members/{member.pk}/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_block_and_unblock(signed_in, member):
    client = signed_in("manager")
    client.post(f"/panel/members/{member.pk}/status", {"status": "blocked"})
    member.refresh_from_db()
    assert member.status == "blocked"
    client.post(f"/panel/members/{member.pk}/status", {"status": "active"})
    member.refresh_from_db()
    assert member.status == "active"


def test_issue_replace_and_print_card(signed_in, member):
    client = signed_in("cashier", branch="t1")
    client.post(f"/panel/members/{member.pk}/cards/issue")
    first = Card.objects.get(member=member)
    client.post(f"/panel/members/{member.pk}/cards/replace", {"number": first.number})
    first.refresh_from_db()
    second = Card.objects.get(member=member, status="active")
    assert first.status == "replaced" and first.replaced_by == second
    printed = client.get(f"/panel/members/{member.pk}/cards/{second.number}/print").content.decode()
    assert "<svg" in printed and second.number in printed and "علی رضایی" in printed


def test_analyst_reads_but_cannot_submit_any_form(signed_in, member):
    client = signed_in("analyst")
    assert client.get(f"/panel/members/{member.pk}/").status_code == 200
    posts = [(f"/panel/members/{member.pk}/adjust", {"adjust-currency": "points", "adjust-amount": "1",
                                                     "adjust-reason": "x"}),
             (f"/panel/members/{member.pk}/convert", {"convert-points": "100"}),
             (f"/panel/members/{member.pk}/status", {"status": "blocked"}),
             (f"/panel/members/{member.pk}/cards/issue", {}),
             (f"/panel/members/{member.pk}/edit", {"mobile": member.mobile, "first_name": "x", "gender": ""}),
             ("/panel/members/new", {"mobile": "09120000000", "gender": ""}),
             ("/panel/settings/branches", {"code": "x", "name": "x"})]
    for path, data in posts:
        assert client.post(path, data).status_code == 403, path
    member.refresh_from_db()
    assert member.status == "active" and member.first_name == "علی"
    assert not Entry.objects.exists() and not Card.objects.exists() and Member.objects.count() == 1


def test_cashier_sees_only_own_branch_purchases_and_no_settings(signed_in, member, purchase_at):
    purchase_at(member, "t1", 100_000)
    purchase_at(member, "v2", 777_000)
    client = signed_in("cashier", branch="t1")
    listing = client.get("/panel/purchases/").content.decode()
    assert "۱۰۰٬۰۰۰" in listing and "۷۷۷٬۰۰۰" not in listing
    other = Purchase.objects.get(total=777_000)
    assert client.get(f"/panel/purchases/{other.pk}/").status_code == 403
    assert client.get("/panel/settings/").status_code == 403
    assert client.get("/panel/settings/keys").status_code == 403
    dashboard = client.get("/panel/").content.decode()
    assert "تجریش" in dashboard and "ونک" not in dashboard  # the branch comparison: their branch only


def test_manager_cannot_manage_api_keys_or_operators(signed_in):
    client = signed_in("manager")
    assert client.get("/panel/settings/").status_code == 200
    assert client.get("/panel/settings/keys").status_code == 403
    assert client.get("/panel/settings/operators").status_code == 403


def test_api_key_shown_once_and_revoked(signed_in):
    client = signed_in("owner")
    html = client.post("/panel/settings/keys", {"name": "till", "scope": "write", "branch": ""},
                       follow=True).content.decode()
    row = ApiKey.objects.get(name="till")
    key = re.search(r'data-testid="new-key">([^<]+)<', html).group(1)
    from vafa.access.services import principal_for_key

    assert principal_for_key(key) is not None
    assert key not in client.get("/panel/settings/keys").content.decode()
    client.post(f"/panel/settings/keys/{row.pk}/revoke")
    assert principal_for_key(key) is None


def test_operator_created_as_cashier_of_one_branch(signed_in, business):
    client = signed_in("owner")
    branch = Branch.objects.get(code="v2")
    client.post("/panel/settings/operators", {"username": "sara", "password": "long enough 1", "role": "cashier",
                                              "branches": [str(branch.pk)]})
    op = Operator.objects.get(user__username="sara")
    assert op.role == "cashier" and list(op.branches.values_list("code", flat=True)) == ["v2"]
    missing = client.post("/panel/settings/operators", {"username": "reza", "password": "long enough 1",
                                                        "role": "cashier"})
    assert missing.status_code == 422 and not Operator.objects.filter(user__username="reza").exists()


def test_business_profile_bad_timezone_writes_nothing(signed_in, business):
    response = signed_in("owner").post("/panel/settings/", {"name": "New", "currency": "IRT", "calendar": "jalali",
                                                            "language": "fa", "timezone": "Mars/Base"})
    business.refresh_from_db()
    assert response.status_code == 422 and business.name == "کافه وفا"


def test_return_preview_writes_nothing_then_confirm(signed_in, member, purchase_at):
    purchase_at(member, "t1", 1_000_000)  # 100 points
    purchase = Purchase.objects.get()
    client = signed_in("owner")
    url = f"/panel/purchases/{purchase.pk}/"
    preview = client.post(url, {"kind": "return", "amount": "500000", "reason": "", "step": "preview"})
    assert 'data-testid="preview"' in preview.content.decode() and "۵۰" in preview.content.decode()
    purchase.refresh_from_db()
    assert purchase.returned_amount == 0 and balances(member)["points"]["available"] == 100
    client.post(url, {"kind": "return", "amount": "500000", "reason": "", "step": "confirm"})
    purchase.refresh_from_db()
    assert purchase.returned_amount == 500_000 and balances(member)["points"]["available"] == 50


def test_purchase_filter_by_jalali_date_range(signed_in, member, purchase_at, business):
    import datetime as dt

    from django.utils import timezone

    from vafa.core.calendar import format_date

    purchase_at(member, "t1", 100_000)
    today = format_date(timezone.localdate(), "jalali", "fa")
    tomorrow = format_date(timezone.localdate() + dt.timedelta(days=1), "jalali", "fa")
    client = signed_in("owner")
    assert "۱۰۰٬۰۰۰" in client.get("/panel/purchases/", {"from": today, "to": today}).content.decode()
    assert "۱۰۰٬۰۰۰" not in client.get("/panel/purchases/", {"from": tomorrow}).content.decode()
    assert "Not a date" in client.get("/panel/purchases/", {"from": "garbage"}).content.decode() or \
        "تاریخ نیست" in client.get("/panel/purchases/", {"from": "garbage"}).content.decode()


def test_dashboard_member_count_and_liability_equal_the_api(signed_in, business, make_member, purchase_at):
    """Members and what is owed: the dashboard's figures equal the API's (the member list and every member's
    balance endpoint), valued at the loyalty table's 100 points = 10,000."""
    from django.test import Client

    from vafa.access.services import create_api_key
    from vafa.members.balances import adjust, grant_gift_credit
    from vafa.panel import selectors

    members = [make_member() for _ in range(4)]
    purchase_at(members[0], "t1", 1_230_000)  # 120 points
    purchase_at(members[1], "v2", 560_000)  # 50 points
    adjust(business, members[2].pk, "wallet", 35_000, reason="refund")
    grant_gift_credit(business, amount=20_000, reason="birthday", member_ids=[members[3].pk])
    _, key = create_api_key(business, scope="read")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    listed = api.get("/api/v1/members", {"limit": 200}).json()["items"]
    owed = {"points": 0, "wallet": 0, "gift_credit": 0}
    for item in listed:
        held = api.get(f"/api/v1/members/{item['id']}/balance").json()
        for currency in owed:
            owed[currency] += held[currency]["available"]
    liability = selectors.liability(business)
    assert selectors.member_counts(business)["total"] == len(listed) == 4
    assert (liability["points"], liability["wallet"], liability["gift_credit"]) == (
        owed["points"], owed["wallet"], owed["gift_credit"]) == (170, 35_000, 20_000)
    assert liability["money"] == 17_000 + 35_000 + 20_000
    by_source = {row["source"]: row["members"] for row in api.get("/api/v1/reports/sign-ups").json()}
    assert dict(selectors.sign_ups_by_source(business)) == by_source
    html = signed_in("owner").get("/panel/").content.decode()
    assert 'data-testid="members-total">۴<' in html and "۷۲٬۰۰۰ تومان" in html


def test_demo_prints_the_back_office_and_owner_sign_in_first():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("demo", "--no-serve", "--members", "5", "--port", "8123", stdout=out, stderr=io.StringIO())
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert "http://127.0.0.1:8123/panel/" in lines[1] and "admin / vafa-demo-1234" in lines[2]
    from django.test import Client

    client = Client()
    assert "/panel/" in client.get("/").content.decode()
    assert client.post("/panel/login", {"username": "admin", "password": "vafa-demo-1234"}).status_code == 302
    assert client.get("/panel/").status_code == 200


def test_setup_wizard_activates_a_cafe_program_and_prints_its_table(signed_in, business):
    from vafa.panel.models import ProgramBudget
    from vafa.program.selectors import active_program

    before = active_program(business)[0].version
    client = signed_in("owner")
    assert "نوشیدنی رایگان" in client.get("/panel/setup/", {"kind": "cafe"}).content.decode()
    response = client.post("/panel/setup/", {
        "kind": "cafe", "customers": "regulars", "goal": "visits", "mechanism": "stamps", "per": "۱۰۰٬۰۰۰",
        "award": "10", "stamp_every": "8", "stamp_reward": "نوشیدنی رایگان", "point_value": "10000",
        "expiry_days": "180", "monthly_budget": "5,000,000"})
    assert response.status_code == 302 and response["Location"] == "/panel/setup/handbook"
    version, document = active_program(business)
    assert version.version == before + 1 and [r.kind for r in document.rules] == ["earn", "stamp"]
    assert document.rules[1].every == 8 and document.tiers is None
    assert ProgramBudget.objects.get(business=business).monthly_amount == 5_000_000
    html = client.get("/panel/setup/handbook").content.decode()
    assert "۱۰۰ امتیاز = ۱۰٬۰۰۰ تومان" in html and "نوشیدنی رایگان" in html
    assert re.search(r"۵۰۰</td><td class=\"num\">۵۰٬۰۰۰ تومان", html)  # 500 points are worth 50,000 Toman
    assert "۵٬۰۰۰٬۰۰۰ تومان" in client.get("/panel/").content.decode()  # the budget watched on the dashboard


def test_setup_wizard_bad_input_activates_nothing(signed_in, business):
    from vafa.program.selectors import active_program

    before = active_program(business)[0].version
    response = signed_in("owner").post("/panel/setup/", {
        "kind": "cafe", "customers": "regulars", "goal": "visits", "mechanism": "stamps", "per": "0",
        "award": "10", "stamp_every": "", "stamp_reward": "", "point_value": "10000", "expiry_days": "180"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="error-per"' in html and 'data-testid="error-stamp_reward"' in html
    assert active_program(business)[0].version == before


def test_setup_wizard_is_for_the_owner(signed_in):
    assert signed_in("manager").get("/panel/setup/").status_code == 403


def test_invite_an_operator_with_a_one_time_link(signed_in, client):
    from django.test import Client

    html = signed_in("owner").post("/panel/settings/operators", {"username": "nima", "password": "", "role": "analyst"},
                                   follow=True).content.decode()
    link = re.search(r'data-testid="invite-link">http://testserver([^<]+)<', html).group(1)
    invited = Operator.objects.get(user__username="nima")
    assert not invited.user.has_usable_password()
    guest = Client()
    assert guest.get(link).status_code == 200
    short = guest.post(link, {"new_password1": "short", "new_password2": "short"})
    assert short.status_code == 200 and 'data-testid="error-new_password' in short.content.decode()
    done = guest.post(link, {"new_password1": "a long new secret", "new_password2": "a long new secret"})
    assert done.status_code == 302
    assert guest.get(link).status_code == 404  # used once
    assert guest.post("/panel/login", {"username": "nima", "password": "a long new secret"}).status_code == 302


def test_webhook_added_tested_and_retried(signed_in, business):
    from vafa.webhooks.models import WebhookDelivery, WebhookEndpoint

    client = signed_in("owner")
    bad = client.post("/panel/settings/webhooks", {"url": "ftp://x", "events": ["member.created"]})
    assert bad.status_code == 422 and not WebhookEndpoint.objects.exists()
    client.post("/panel/settings/webhooks", {"url": "https://example.com/hook", "events": ["member.created"]})
    endpoint = WebhookEndpoint.objects.get()
    client.post(f"/panel/settings/webhooks/{endpoint.pk}/test")
    delivery = WebhookDelivery.objects.get(event_type="webhook.test")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    client.post(f"/panel/settings/webhooks/{endpoint.pk}/retry", {"delivery": delivery.pk})
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "webhook.test" in client.get("/panel/settings/webhooks").content.decode()


def test_a_password_is_never_echoed_back(signed_in):
    response = signed_in("owner").post("/panel/settings/operators", {"username": "", "password": "secret-password-1",
                                                                     "role": "cashier"})
    assert response.status_code == 422 and "secret-password-1" not in response.content.decode()


def test_amounts_are_shown_in_persian_digits(signed_in):
    html = signed_in("owner").get("/panel/setup/", {"kind": "retail"}).content.decode()
    assert 'value="۱۰۰٬۰۰۰"' in html


def test_months_and_program_effect(signed_in, business, make_member, purchase_at):
    import datetime as dt

    from django.utils import timezone

    from vafa.panel import selectors

    member = make_member()
    purchase_at(member, "t1", 100_000)
    purchase_at(member, "v2", 250_000)
    rows = selectors.months(business)
    assert len(rows) == 12 and (rows[-1].purchases, rows[-1].revenue, rows[-1].visits) == (2, 350_000, 2)
    assert sum(r.purchases for r in rows[:-1]) == 0
    assert selectors.cohort_effect(business) == {"too_early": True, "rows": []}
    assert 'data-testid="too-early"' in signed_in("owner").get("/panel/").content.decode()
    # Members who joined seven months ago: months 1–3 vs 4–6 after joining, per member.
    from vafa.members.models import Member
    from vafa.purchases.services import record_purchase

    old = timezone.now() - dt.timedelta(days=215)
    Member.objects.filter(pk=member.pk).update(joined_at=old)
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="old1", total=400_000,
                    occurred_at=old + dt.timedelta(days=10))
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="old2", total=200_000,
                    occurred_at=old + dt.timedelta(days=100))
    effect = selectors.cohort_effect(business)
    assert not effect["too_early"]
    row = next(r for r in effect["rows"] if r["members"])
    assert (row["members"], row["early_visits"], row["later_visits"], row["early_spend"], row["later_spend"]) == (
        1, 1.0, 1.0, 400_000, 200_000)


def test_login_page_is_persian_whatever_the_browser_asks(client):
    html = client.get("/panel/login", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="fa"' in html and "ورود" in html
    client.cookies["django_language"] = "en"
    assert 'lang="en"' in client.get("/panel/login").content.decode()


def test_panel_writes_are_in_the_audit_trail(signed_in, member):
    from vafa.access.models import AuditEvent

    signed_in("manager").post(f"/panel/members/{member.pk}/status", {"status": "blocked"})
    event = AuditEvent.objects.get()
    assert event.action == f"POST /panel/members/{member.pk}/status" and event.actor_label == "manager-all"
    signed_in("analyst").post(f"/panel/members/{member.pk}/status", {"status": "active"})
    assert AuditEvent.objects.count() == 1  # a refused write is not a change


def test_member_filters_birth_month_in_jalali_and_last_purchase(signed_in, make_member, purchase_at):
    mehr = make_member(first_name="mehr", birth_date="1370/07/05")  # Mehr: 27 September 1991
    make_member(first_name="aban", birth_date="1370/08/05")
    bought = make_member(first_name="buyer")
    purchase_at(bought, "t1", 100_000)
    client = signed_in("owner")
    html = client.get("/panel/members/", {"birth_month": "7"}).content.decode()
    assert f"/panel/members/{mehr.pk}/" in html and "aban" not in html and "buyer" not in html
    recent = client.get("/panel/members/", {"last_purchase": "30"}).content.decode()
    assert "buyer" in recent and "mehr" not in recent
    lapsed = client.get("/panel/members/", {"last_purchase": "none365"}).content.decode()
    assert "buyer" not in lapsed and "mehr" in lapsed and "aban" in lapsed
    branch = Branch.objects.get(code="t1")
    assert "buyer" in client.get("/panel/members/", {"branch": branch.pk}).content.decode()
    assert "buyer" not in client.get("/panel/members/", {"branch": Branch.objects.get(code="v2").pk}).content.decode()


def test_sorting_keeps_the_filters_in_links(signed_in, make_member):
    make_member(first_name="b", join_source="instagram")
    html = signed_in("owner").get("/panel/members/", {"source": "instagram", "sort": "-joined_at"}).content.decode()
    assert "?source=instagram&amp;sort=joined_at" in html  # the header link flips the order, keeps the filter


def test_a_gregorian_english_business_reads_in_english(client, other_business):
    from vafa.access.services import create_operator
    from vafa.members.services import sign_up
    from vafa.program.services import activate_program
    from vafa.program.starter import starter_document

    activate_program(other_business, starter_document("en", "USD"))
    member = sign_up(other_business, mobile="+447911123456", first_name="Ann")
    from vafa.members.balances import adjust

    adjust(other_business, member.pk, "wallet", 1050, reason="welcome")
    op = create_operator(other_business, username="london", password=PASSWORD, role="owner")
    client.force_login(op.user)
    html = client.get(f"/panel/members/{member.pk}/").content.decode()
    assert 'lang="en"' in html and 'dir="ltr"' in html
    assert "10.50 USD" in html and member.joined_at.date().isoformat()[:4] in html
    assert "۱" not in html.split("<main", 1)[1]  # no Persian digits in the page body



def test_another_business_member_or_purchase_is_not_found(signed_in, other_business, member, purchase_at):
    from vafa.members.services import sign_up

    purchase_at(member, "t1", 100_000)
    purchase = Purchase.objects.get()
    stranger = sign_up(other_business, mobile="09120001111")
    client = signed_in("owner")
    assert client.get(f"/panel/members/{stranger.pk}/").status_code == 404
    assert client.get("/panel/members/999999/").status_code == 404
    assert client.get(f"/panel/purchases/{purchase.pk + 1000}/").status_code == 404
    assert client.get(f"/panel/members/{member.pk}/cards/0000/print").status_code == 404
    assert client.post(f"/panel/members/{stranger.pk}/adjust", {"adjust-currency": "points", "adjust-amount": "5",
                                                                "adjust-reason": "x"}).status_code == 404
    assert not Entry.objects.filter(member=stranger).exists()


def test_logo_upload_shown_on_the_card_and_a_script_refused(signed_in, business, member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from vafa.members.services import CardIssue, issue_card
    from vafa.panel.models import BusinessLogo

    client = signed_in("owner")
    profile = {"name": "کافه وفا", "currency": "IRT", "calendar": "jalali", "language": "fa",
               "timezone": "Asia/Tehran"}
    svg = SimpleUploadedFile("logo.svg", b"<svg onload=alert(1)></svg>", content_type="image/svg+xml")
    refused = client.post("/panel/settings/", {**profile, "name": "Renamed", "logo": svg})
    business.refresh_from_db()
    assert refused.status_code == 422 and not BusinessLogo.objects.exists() and business.name == "کافه وفا"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    client.post("/panel/settings/", {**profile, "logo": SimpleUploadedFile("logo.png", png, content_type="image/png")})
    served = client.get("/panel/logo")
    assert served["Content-Type"] == "image/png" and served.content == png
    card = issue_card(business, CardIssue.check(member.pk)).card
    assert "/panel/logo" in client.get(f"/panel/members/{member.pk}/cards/{card.number}/print").content.decode()


def test_the_active_window_is_a_setting_used_by_the_dashboard_and_the_members_filter(signed_in, business, make_member,
                                                                                   purchase_at):
    import datetime as dt

    from django.utils import timezone

    from vafa.panel.models import ActiveWindow

    old, recent = make_member(first_name="old"), make_member(first_name="recent")
    purchase_at(old, "t1", 100_000)
    purchase_at(recent, "t1", 100_000)
    Purchase.objects.filter(member=old).update(occurred_at=timezone.now() - dt.timedelta(days=100))
    client = signed_in("owner")
    dashboard = client.get("/panel/").content.decode()
    assert "۳۶۵ روز" in dashboard and re.search(r'data-testid="members-active"[^>]*>\s*۲\s*<', dashboard)
    profile = {"name": "کافه وفا", "currency": "IRT", "calendar": "jalali", "language": "fa",
               "timezone": "Asia/Tehran"}
    for bad, said in (("۰", "باید بزرگ‌تر از صفر باشد"), ("abc", "باید عدد صحیح باشد"), ("99999", "بیش از حد بزرگ است")):
        html = client.post("/panel/settings/", {**profile, "active_days": bad, "name": "Renamed"}).content.decode()
        assert re.search(r'data-testid="error-active_days">[^<]*' + said, html), bad
    business.refresh_from_db()
    assert not ActiveWindow.objects.exists() and business.name == "کافه وفا"
    assert client.post("/panel/settings/", {**profile, "active_days": "۹۰"}).status_code == 302
    assert ActiveWindow.objects.get().days == 90
    dashboard = client.get("/panel/").content.decode()
    assert "۹۰ روز" in dashboard and re.search(r'data-testid="members-active"[^>]*>\s*۱\s*<', dashboard)
    members = client.get("/panel/members/", {"last_purchase": "90"}).content.decode()
    assert 'value="90"' in members and f"/panel/members/{recent.pk}/" in members
    assert f"/panel/members/{old.pk}/" not in members
    assert f"/panel/members/{old.pk}/" in client.get("/panel/members/", {"last_purchase": "none90"}).content.decode()
