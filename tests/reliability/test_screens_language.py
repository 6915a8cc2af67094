"""One language per screen: "a Persian shop owner must never meet English". The owner of a Persian, Jalali
business walks every HTML page of the back office, the till and the member portal (the tenant-isolation walk's
route list, aimed at the business's own objects) and the visible text (with placeholders, titles, labels for
screen readers, button values and options) may hold no Latin word and no Latin digit but the business's own data
listed below. The same walk in English may show no Persian but the data's own (names, branches, gift titles)."""

import io
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.utils import timezone
from openpyxl import load_workbook
from tests.clubs.conftest import VIP
from tests.conftest import PROGRAM

from vafa.access.services import create_api_key, create_operator
from vafa.catalogue.services import create_gift, create_group, request_gift
from vafa.clubs.services import create_cause, donate, subscribe
from vafa.core.actor import Actor
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.models import GiftCard
from vafa.members.balances import adjust
from vafa.members.models import Member
from vafa.members.services import CardIssue, issue_card
from vafa.messaging.broadcasts import create_broadcast
from vafa.messaging.services import queue_message, save_templates
from vafa.panel.tables import XLSX
from vafa.portal.services import claim_purchase
from vafa.portal.session import session_key
from vafa.program.services import activate_program
from vafa.purchases.models import IssuedReward
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Branch
from vafa.till.models import SyncProblem
from vafa.till.services import sync_offline_purchase
from vafa.vouchers.services import create_code, create_definition
from vafa.webhooks.services import create_endpoint
from vafa.woocommerce.services import create_connection

from .test_tenant_isolation import PANEL_ACTIONS, PANEL_LISTS, _panel_paths, panel_routes

PASSWORD = "a long password 123"
NOT_SHOWN = {"script", "style", "template"}
# A text area holds the business's own document being edited (the program, its occasions, its message texts in
# each language), a <code> quotes a line of it: data, not the screen's words; a text area's label is checked.
DOCUMENTS = {"textarea", "code"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class VisibleText(HTMLParser):
    """What a person reads or hears on the page: text outside scripts and styles, and the attributes shown as
    text (a placeholder, a tooltip, a screen reader's label, an image's alternative, a button's caption). An
    element marked as another language than the page's (a message text shown in both languages) is that
    language's, rightly."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.language = ""
        self._hidden = 0
        self._foreign: list[str] = []  # the open tags from the element in another language inwards

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.language = attrs.get("lang", "")
        if self._foreign or attrs.get("lang", self.language) != self.language:
            if tag not in VOID:
                self._foreign.append(tag)
            return
        if tag in NOT_SHOWN | DOCUMENTS:
            self._hidden += 1
            if tag in NOT_SHOWN:
                return
        for name in ("placeholder", "title", "aria-label", "alt"):
            if attrs.get(name):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._foreign:
            if self._foreign[-1] == tag:
                self._foreign.pop()
            return
        if tag in NOT_SHOWN | DOCUMENTS and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and not self._foreign and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.parts


# Latin words a Persian page may show: names of things that have no Persian name a shop owner would use, and the
# switch to the other language (written in that language, as every language menu does).
# Names Persian shop software writes in Latin letters (a QR code, a PDF file, an API key), the key a card reader
# presses, file types, the scheme a webhook address must use, and Kavenegar's names of its
# one-time-code service (as its own panel shows them).
FA_WORDS = {"English", "CSV", "Enter", "QR", "PDF", "API", "PNG", "JPEG", "WebP", "xlsx", "https", "verify", "lookup"}
# The fixture's own data that stays Latin: codes typed at a till or printed on a receipt, the file the "file"
# SMS provider writes.
DATA = {"LATTE-1", "MUG-2", "NOWRUZ", "messages.jsonl",
        "Nowruz", "نوروز"}  # the example of an occasion line: a Persian name, then the English one
NOT_WORDS = [
    re.compile(r"https?://\S+"),  # an address: the join link, a webhook's URL
    re.compile(r"\{[a-z_]+\}"),  # a message template's placeholder, typed as it is written
    re.compile(r"\bvk_\S+"),  # an API key's visible prefix
    # the webhook event names a developer subscribes to, the API's own words (docs/api.md)
    re.compile(r"^[a-z_]+\.[a-z_]+$"),
    # the program editor names the place of a mistake by the document's own keys (rules.0.per)
    re.compile(r"^[a-z_]+(\.[a-z0-9_]+)*: "), re.compile(r"← [a-z_][a-z0-9_.]*:"),
    # the audit log is the machine's record: the request (POST /panel/…), the object's kind, the address
    re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$"), re.compile(r"^(panel|[a-z_]+ \d+)$"),
    re.compile(r"^\d{1,3}(\.\d{1,3}){3}$"),
]

LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'.-]*")
LATIN_DIGITS = re.compile(r"[0-9]")
PERSIAN = re.compile(r"[\u0600-\u06FF]")


def without(text: str, data: set[str]) -> str:
    text = text.strip("\u2066\u2069")  # the isolates around a left-to-right code
    # the data first (a stored refusal starts like an editor's key path), and the patterns first (a request
    # line holds a code): whichever leaves less is what the reader meets beyond data and machine words
    return min(_patterns_out(_data_out(text, data)), _data_out(_patterns_out(text), data), key=lambda t: len(t.split()))


def _data_out(text: str, data: set[str]) -> str:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def _patterns_out(text: str) -> str:
    for pattern in NOT_WORDS:
        text = pattern.sub(" ", text)
    return text


def persian_findings(parts: list[str], data: set[str]) -> list[str]:
    found = []
    for part in parts:
        text = without(part, data)
        words = [w for w in LATIN_WORD.findall(text) if w.strip(".-_'") not in FA_WORDS]
        if words or LATIN_DIGITS.search(text):
            found.append(part)
    return found


def english_findings(parts: list[str], data: set[str]) -> list[str]:
    found = []
    for part in parts:
        text = without(part, data)
        if PERSIAN.search(text):
            found.append(part)
    return found


@pytest.fixture
def shop(business, member, make_member):
    """A Persian café with a bit of everything an owner sees: purchases with lines, rewards, vouchers, gifts
    asked for, a claim, messages, a sync problem, a plan, a cause."""
    activate_program(business, PROGRAM | {"plans": [VIP]})
    other = make_member(first_name="مریم", last_name="احمدی")
    for who in (member, other):
        adjust(business, who.pk, "coins", 1000, reason="شارژ اولیه")
        adjust(business, who.pk, "points", 1000, reason="شارژ اولیه")
    card = issue_card(business, CardIssue.check(member.pk)).card
    purchase = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="1001", total=250_000,
                               lines=[{"sku": "LATTE-1", "name": "لاته", "quantity": 2, "unit_price": 100_000},
                                      {"sku": "MUG-2", "name": "ماگ", "quantity": 1, "unit_price": 50_000}])
    record_purchase(business, member_id=other.pk, branch_code="v2", receipt="1002", total=6_000_000)
    reward = IssuedReward.objects.create(business=business, member_id=member.pk, rule_id="card",
                                         key="stamp:card:1", reward_code="CARD", name="قهوه رایگان",
                                         reason="کارت مهر", issued_at=timezone.now())
    group = create_group(business, title="نوشیدنی")
    gift = create_gift(business, title="لیوان", price_currency="coins", price=10, stock=5, group_id=group.pk)
    gift_request = request_gift(business, member.pk, gift.pk)
    voucher = create_definition(business, name="تخفیف نوروز", kind="fixed", amount=10_000)
    create_code(voucher, "NOWRUZ")
    create_definition(business, name="تابستان", kind="percent", percent=10, max_discount=50_000)
    webhook = create_endpoint(business, url="https://hook.example/vafa", events=["*"], description="حسابداری")
    issue_gift_card(business, amount=50_000, sold_to=member, reason="کارت هدیه")
    key = create_api_key(business, scope="admin", name="صندوق")[0]
    subscription = subscribe(business, member.pk, "vip", payment="external")
    woo = create_connection(business, branch_code="t1")
    create_cause(business, code="trees", name="کاشت درخت")
    donate(business, member.pk, "trees", 10)
    queue_message(business, member=member, kind="manual", text="سلام، خوش آمدید")
    create_broadcast(business, audience={}, text="جشنواره تابستان")
    save_templates(business, [{"kind": "welcome", "language": "fa", "text": "به باشگاه خوش آمدید {link}"}])
    claim = claim_purchase(business, member.pk, branch_code="t1", receipt="2001", amount=120_000,
                           purchased_on=timezone.now().astimezone(ZoneInfo(business.timezone)).date())
    sync_offline_purchase(business, Branch.objects.get(business=business, code="t1"), key="offline-1",
                          member_id=member.pk, receipt="3001", total=-5, occurred_at=None,
                          actor=Actor("operator", "1", "صندوق"), language="fa")
    owner = create_operator(business, username="owner", password=PASSWORD, role="owner")
    manager = create_operator(business, username="manager", password=None, role="manager")
    return SimpleNamespace(member=member.pk, card=card.number, purchase=purchase["purchase_id"], reward=reward.pk,
                           gift_request=gift_request["id"], voucher=voucher.pk, webhook=webhook.pk,
                           claim=claim.pk, sync_problem=SyncProblem.objects.get(business=business).pk,
                           key=key.pk, operator=manager.pk, own_branch="t1", template_kind="welcome",
                           foreign_token="not-a-token", plan="vip", subscription=subscription["id"],
                           gift=gift.pk, woo_connection=woo.pk, owner=owner, member_obj=member, business=business)


# The business's own words, in Persian whatever the operator reads: names, titles, texts it wrote.
PERSIAN_DATA = {"کافه وفا", "تجریش", "ونک", "علی", "رضایی", "مریم", "احمدی", "لاته", "ماگ", "قهوه رایگان", "کارت مهر",
                "نوشیدنی", "لیوان", "تخفیف نوروز", "تابستان", "حسابداری", "صندوق", "کاشت درخت", "شارژ اولیه",
                "کارت هدیه", "سلام، خوش آمدید", "جشنواره تابستان", "به باشگاه خوش آمدید",
                "فارسی"}  # the switch to Persian, written in Persian


def data_of(shop) -> set[str]:
    """The business's own data that may show as written, whatever the page's language: codes typed at the till
    (card, member and gift card codes, branch and cause codes, the program's rule ids), the operators' login
    names, and the texts it wrote."""
    business = shop.business
    codes = set(Member.objects.filter(business=business).values_list("code", flat=True))
    codes |= set(GiftCard.objects.filter(business=business).values_list("code", flat=True))
    codes |= set(Branch.objects.filter(business=business).values_list("code", flat=True))
    # Reasons are data, worded for the reader (core.reasons); a sync problem's refusal names the fields the
    # till sent (their names are data), so its wording in either language is the business's own text.
    reasons = {problem.reason_in(language) for problem in SyncProblem.objects.filter(business=business)
               for language in ("fa", "en")}
    # "vip": the member page names a paid plan by its code (the paid-plans work on the member page).
    return DATA | PERSIAN_DATA | codes | reasons | {shop.card, "trees", "base", "vip", "owner", "manager"}


def walk(client, shop) -> dict[str, list[str]]:
    """Every page of the back office and the till, GET: the visible texts of each HTML answer."""
    pages = {}
    for route in panel_routes():
        for path in _panel_paths(route, vars(shop)):
            if route in PANEL_ACTIONS:
                continue  # actions answer POSTs; their GET is a redirect or a 405
            answer = client.get("/" + path)
            if answer.status_code == 200 and answer["Content-Type"].startswith("text/html"):
                pages["/" + path] = visible_text(answer.content.decode())
    assert len(pages) > 40 and any(p.startswith("/till/") for p in pages) and \
        any(p.startswith("/panel/reports/") for p in pages), sorted(pages)
    for missing in ("/panel/does-not-exist", f"/panel/members/{10**9}/"):  # the error pages, in the same language
        answer = client.get(missing)
        assert answer.status_code == 404
        pages[missing] = visible_text(answer.content.decode())
    return pages


def portal_walk(client, shop) -> dict[str, list[str]]:
    session = client.session
    session[session_key(shop.business)] = shop.member
    session.save()
    pages = {}
    for page in ("", "history/", "points/", "gifts/", "offers/", "invite/", "profile/", "receipts/", "contact/"):
        url = f"/m/{shop.business.slug}/{page}"
        answer = client.get(url)
        assert answer.status_code == 200, url
        pages[url] = visible_text(answer.content.decode())
    return pages


def exports(client, pages) -> dict[str, list[str]]:
    """Every table's spreadsheet (each list and report offers Excel and CSV): its sheet's name and its column
    headings are the operator's words; the cells are values a spreadsheet sorts (Latin digits, codes)."""
    found = {}
    for url in pages:
        if not url.startswith("/panel/"):
            continue
        answer = client.get(url, {"export": "xlsx"})
        if answer.status_code != 200 or not answer["Content-Type"].startswith(XLSX):
            continue
        sheet = load_workbook(io.BytesIO(b"".join(answer.streaming_content)), read_only=True).worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        found[url + "?export=xlsx"] = [sheet.title] + [str(h) for h in header]
    assert len(found) > 10, sorted(found)
    return found


def report(findings: dict[str, list[str]]) -> str:
    return "\n".join(f"{url}: {texts}" for url, texts in findings.items())


assert PANEL_LISTS  # the reports are walked one by one (panel/reports/<slug>)


def test_a_persian_owner_never_meets_english(shop, client):
    assert client.login(username="owner", password=PASSWORD)
    pages = walk(client, shop)
    pages |= exports(client, pages) | portal_walk(client, shop)
    data = data_of(shop)
    findings = {url: found for url, texts in pages.items() if (found := persian_findings(texts, data))}
    assert not findings, "Latin words or digits on Persian pages:\n" + report(findings)


def test_an_english_operator_never_meets_persian_ui(shop, client):
    shop.owner.language = "en"
    shop.owner.save(update_fields=["language"])
    assert client.login(username="owner", password=PASSWORD)
    pages = walk(client, shop)
    pages |= exports(client, pages)
    shop.business.language = "en"  # the portal speaks the business's language
    shop.business.save(update_fields=["language"])
    pages |= portal_walk(client, shop)
    findings = {url: found for url, texts in pages.items() if (found := english_findings(texts, data_of(shop)))}
    assert not findings, "Persian on English pages:\n" + report(findings)


def test_a_persian_owner_reads_form_errors_in_persian(shop, client):
    """Every form sent empty, and the program editor sent a document with mistakes: the errors (Django's, the
    services', the program's validation) are Persian."""
    pages = {}
    member = Client()  # a member's own browser, before the empty panel forms change them
    session = member.session
    session[session_key(shop.business)] = shop.member
    session.save()
    for page in ("profile/", "receipts/", "sign-in/"):  # the member's own forms
        answer = member.post(f"/m/{shop.business.slug}/{page}", {"email": "x", "amount": "x",
                                                                   "purchased_on": "1405/99/99"})
        assert answer.status_code in (200, 400), page
        pages[f"/m/{shop.business.slug}/{page}"] = visible_text(answer.content.decode())
    assert client.login(username="owner", password=PASSWORD)
    for route in panel_routes():
        if route in PANEL_ACTIONS or route.endswith(("logout", "language")):
            continue
        for path in _panel_paths(route, vars(shop)):
            answer = client.post("/" + path, {})
            if answer.status_code in (200, 400, 422) and answer["Content-Type"].startswith("text/html"):
                pages["/" + path] = visible_text(answer.content.decode())
    bad_program = "rules:\n- id: base\n  kind: earn\n  per: -5\n  award: many\nunknown_key: 1\n"
    answer = client.post("/panel/program/edit", {"document": bad_program})
    pages["/panel/program/edit (mistakes)"] = visible_text(answer.content.decode())
    findings = {url: found for url, texts in pages.items() if (found := persian_findings(texts, data_of(shop)))}
    assert not findings, "Latin words or digits in Persian form errors:\n" + report(findings)


def test_the_doors_and_error_pages_speak_persian(shop, client, settings):
    """The pages before signing in (the back office's and the portal's sign-in, the join page, an invitation
    gone stale) and the error pages: a Persian visitor's browser asks for nothing else."""
    pages = {}
    for url in ("/panel/login", f"/m/{shop.business.slug}/sign-in/", f"/join/{shop.business.slug}/",
                "/panel/invite/x/y", "/no-such-page/"):
        answer = client.get(url)
        assert answer.status_code in (200, 400, 404), url
        pages[url] = visible_text(answer.content.decode())
    from vafa.core.views import permission_denied, server_error

    request = RequestFactory().get("/panel/")
    request.user = AnonymousUser()
    for view in (server_error, permission_denied):
        pages[view.__name__] = visible_text(view(request).content.decode())
    findings = {url: found for url, texts in pages.items() if (found := persian_findings(texts, data_of(shop)))}
    assert not findings, "Latin words or digits on Persian pages:\n" + report(findings)


def test_every_stored_choice_has_a_label_in_each_language(shop):
    """Statuses, kinds and roles are shown through vafa.panel.labels: each in Persian for a Persian reader, in
    English for an English one (the walk above meets only the states its data is in)."""
    from django.utils import translation

    from vafa.panel.labels import LABELS

    data = data_of(shop)
    for language, findings_of in (("fa", persian_findings), ("en", english_findings)):
        with translation.override(language):
            shown = {f"{kind}.{value}": [str(text)] for kind, labels in LABELS.items() for value, text in labels.items()}
        findings = {key: found for key, texts in shown.items() if (found := findings_of(texts, data))}
        assert not findings, (language, findings)
