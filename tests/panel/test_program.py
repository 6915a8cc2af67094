"""The program screens with Django's test client: readable rules, the editor's inline errors (the API's
validation, each beside its YAML line), activation, simulate, the backtest polled to its end, the history diff,
and the owner-only rule of the API."""

import re

import pytest

from vafa.access.models import AuditEvent
from vafa.ledger.models import Entry
from vafa.panel.program_views import to_yaml, yaml_line
from vafa.program.models import ProgramVersion
from vafa.program.selectors import active_program

pytestmark = pytest.mark.django_db

BAD_PER = """rules:
- id: base
  kind: earn
  per: 0
  award: 10
"""


def test_yaml_line_follows_the_error_location():
    assert yaml_line(BAD_PER, "rules.0.per") == 4
    assert yaml_line(BAD_PER, "rules.0.missing") == 2
    assert yaml_line(BAD_PER, "tiers") is None


def test_program_page_reads_as_rules_in_persian(signed_in):
    html = signed_in("analyst").get("/panel/program/").content.decode()
    assert "۱۰ امتیاز به ازای هر ۱۰۰٬۰۰۰ تومان خرید" in html
    assert "نقره‌ای" in html and 'data-testid="edit-program"' not in html and 'data-testid="draft-program"' in html


@pytest.mark.parametrize("role", ["manager", "analyst", "cashier"])
def test_only_the_owner_activates_the_program(signed_in, business, role):
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    version, _ = active_program(business)
    valid = to_yaml(version.document).replace("award: 10", "award: 20")
    before = ProgramVersion.objects.count()
    # Checking a draft writes nothing: readers of the whole business may (the cashier is bound to a branch).
    assert client.get("/panel/program/edit").status_code == (403 if role == "cashier" else 200)
    assert client.post("/panel/program/edit", {"document": valid, "action": "activate"}).status_code == 403
    assert ProgramVersion.objects.count() == before


def test_analyst_may_simulate_and_backtest_but_nothing_else(signed_in, business, member, purchase_at):
    """The API's rule: simulate (a dry run) needs read scope; the backtest is a dry run too. Every other form
    stays refused to the read-only role."""
    purchase_at(member, total=1_000_000)
    client = signed_in("analyst")
    entries, versions = Entry.objects.count(), ProgramVersion.objects.count()
    html = client.post("/panel/program/", {"sim-member": member.code, "sim-branch": "t1",
                                           "sim-total": "500000"}).content.decode()
    assert 'data-testid="simulate-result"' in html
    version, _ = active_program(business)
    text = to_yaml(version.document).replace("award: 10", "award: 20")
    html = client.post("/panel/program/edit", {"document": text, "action": "backtest"}).content.decode()
    assert 'data-testid="activate"' not in html
    url = re.search(r'hx-get="(/panel/program/backtest/[^"]+)"', html).group(1)
    for _ in range(5):
        html = client.get(url).content.decode()
    assert 'data-testid="backtest-result"' in html
    assert client.post("/panel/program/edit", {"document": text, "action": "activate"}).status_code == 403
    assert client.post("/panel/rewards/gift-credit", {"grant-who": "member", "grant-member": member.code,
                                                      "grant-amount": "10", "grant-reason": "x"}).status_code == 403
    assert client.post(f"/panel/members/{member.pk}/adjust", {"adjust-currency": "points", "adjust-amount": "1",
                                                              "adjust-reason": "x"}).status_code == 403
    assert (Entry.objects.count(), ProgramVersion.objects.count()) == (entries, versions)
    assert not member.purchases.exclude(receipt__startswith="R").exists()


def test_a_cashier_simulates_in_own_branch_only(signed_in, member):
    client = signed_in("cashier", branch="t1")
    assert 'data-testid="simulate-result"' in client.post("/panel/program/", {
        "sim-member": member.code, "sim-branch": "t1", "sim-total": "500000"}).content.decode()
    html = client.post("/panel/program/", {"sim-member": member.code, "sim-branch": "v2",
                                           "sim-total": "500000"}).content.decode()
    assert 'data-testid="simulate-result"' not in html and "is-invalid" in html
    assert client.get("/panel/program/edit").status_code == 403


def test_an_invalid_draft_shows_the_error_beside_its_line_and_writes_nothing(signed_in, business):
    before = ProgramVersion.objects.count()
    html = signed_in("owner").post("/panel/program/edit", {"document": BAD_PER, "action": "activate"}).content.decode()
    row = re.search(r'<tr class="table-danger" data-testid="error-line-(\d+)">(.*?)</tr>', html, re.S)
    assert row and row.group(1) == "4" and "per: 0" in row.group(2) and "rules.0.per" not in row.group(2)
    assert "قاعدهٔ ۱ (base) ← per" in row.group(2) and "باید دست‌کم ۱ باشد" in row.group(2)
    assert ProgramVersion.objects.count() == before


def test_error_locations_read_as_the_operator_names_things(signed_in, operator, client):
    from django.utils import translation

    from vafa.panel.program_views import readable_location

    translation.activate("en")
    data = {"rules": [{"id": "base"}, {"id": "x", "name": {"fa": "دوبل", "en": "Double"}}],
            "tiers": {"levels": [{"code": "gold"}]}}
    assert readable_location(data, "rules.1.when.min_amount", "en") == "Rule 2 (Double) → when → min_amount"
    assert readable_location(data, "tiers.levels.0.threshold", "en") == "tiers → Tier 1 (gold) → threshold"
    assert readable_location(data, "rules.7.per", "en") == "Rule 8 → per"
    owner = operator("owner")
    owner.language = "en"
    owner.save()
    client.force_login(owner.user)
    html = client.post("/panel/program/edit", {"document": BAD_PER, "action": "check"}).content.decode()
    assert "Rule 1 (base) → per" in html and "must be at least 1" in html


def test_broken_yaml_is_shown_on_its_line(signed_in):
    html = signed_in("owner").post("/panel/program/edit", {"document": "rules: [\n  - a: 1\n  b", "action": "check"}).content.decode()
    assert 'data-testid="error-line-' in html


def test_a_valid_draft_is_activated(signed_in, business):
    version, _ = active_program(business)
    text = to_yaml(version.document).replace("award: 10", "award: 20")
    response = signed_in("owner").post("/panel/program/edit", {"document": text, "action": "activate"})
    assert response.status_code == 302
    new, document = active_program(business)
    assert new.version == version.version + 1 and document.rules[0].award == 20
    # the API's audit row (the editor's other POSTs, dry runs, write none)
    assert list(AuditEvent.objects.values_list("operation", "object_id")) == [("program.activate", str(new.version))]


def test_backtest_polls_to_the_comparison(signed_in, business, member, purchase_at):
    purchase_at(member, total=1_000_000)
    version, _ = active_program(business)
    text = to_yaml(version.document).replace("award: 10", "award: 20")
    client = signed_in("owner")
    entries, versions = Entry.objects.count(), ProgramVersion.objects.count()
    html = client.post("/panel/program/edit", {"document": text, "action": "backtest", "days": "۳۰"}).content.decode()
    url = re.search(r'hx-get="(/panel/program/backtest/[^"]+)"', html).group(1)
    for _ in range(5):
        html = client.get(url).content.decode()
        if 'data-testid="backtest-result"' in html:
            break
    assert 'data-testid="backtest-result"' in html
    assert "۱۰۰" in html and "۲۰۰" in html  # 100 points under the active version, 200 under the draft
    assert (Entry.objects.count(), ProgramVersion.objects.count()) == (entries, versions)


def test_simulate_answers_what_a_purchase_would_earn(signed_in, member):
    html = signed_in("owner").post("/panel/program/", {"sim-member": member.code, "sim-branch": "t1",
                                                       "sim-total": "۵۰۰٬۰۰۰"}).content.decode()
    assert 'data-testid="simulate-result"' in html and "۵۰" in html
    assert not member.purchases.exists()


def test_simulate_unknown_member_is_an_error_beside_the_field(signed_in):
    html = signed_in("owner").post("/panel/program/", {"sim-member": "NOPE", "sim-branch": "t1",
                                                       "sim-total": "1000"}).content.decode()
    assert "عضو پیدا نشد" in html


def test_history_shows_the_diff(signed_in, business):
    version, _ = active_program(business)
    client = signed_in("owner")
    client.post("/panel/program/edit", {"document": to_yaml(version.document).replace("award: 10", "award: 20"),
                                        "action": "activate"})
    html = client.get(f"/panel/program/history?version={version.version + 1}").content.decode()
    assert "-  award: 10" in html and "+  award: 20" in html
