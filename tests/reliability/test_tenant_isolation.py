"""Tenant isolation, walked over the URL map: every operation of the API is listed in OPERATIONS with how to aim
it at business B's objects; business A's admin key then gets a 404 problem and changes nothing, and no list
answers any of B's rows. A new endpoint fails here until someone says how to build its object."""

import json
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from tests.clubs.conftest import VIP
from tests.conftest import PROGRAM

from vafa.access.models import AuditEvent
from vafa.access.services import create_api_key, create_operator
from vafa.api.site import api
from vafa.catalogue.services import create_gift, create_group, request_gift
from vafa.clubs.services import create_cause, donate, subscribe
from vafa.core.actor import Actor
from vafa.ledger.giftcards import issue_gift_card
from vafa.members.balances import adjust
from vafa.members.services import CardIssue, issue_card, sign_up
from vafa.messaging.broadcasts import create_broadcast
from vafa.messaging.services import queue_message, save_templates
from vafa.panel.reports import REPORTS
from vafa.portal.services import claim_purchase
from vafa.program.services import activate_program
from vafa.purchases.models import IssuedReward
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Branch
from vafa.till.models import SyncProblem
from vafa.till.services import sync_offline_purchase
from vafa.vouchers.services import create_code, create_definition
from vafa.webhooks.services import create_endpoint
from vafa.woocommerce.services import create_connection

from .conftest import counts

SECRET = "BSECRET"  # in every text field of B's rows: no answer to A may contain it


@dataclass(frozen=True)
class ById:
    """The operation names one of B's objects in its path: (path, body) aimed at it; the answer is a 404 problem
    (or the statuses given, when the operation explains its refusal)."""

    build: object
    statuses: frozenset = frozenset({404})


@dataclass(frozen=True)
class ByBody:
    """The operation names B's objects in its body: 404 (or 422 for a reference that is checked as a field)."""

    build: object


@dataclass(frozen=True)
class Listing:
    """A read without an object id: its answer to A must not carry any of B's rows."""

    query: dict | None = None


@dataclass(frozen=True)
class OwnOnly:
    """Creates or reads only the caller's own business rows; the reason says why no foreign object applies."""

    reason: str


def _member(b):
    return {"member_id": b.member}


OPERATIONS = {
    "GET /program": Listing(),
    "PUT /program": OwnOnly("replaces the caller's own program document"),
    "POST /program/simulate": ByBody(lambda b: ("/program/simulate",
                                                {"member": _member(b), "branch": "t1", "total": 1000})),
    "POST /members": OwnOnly("signs up a new member in the caller's business (B's mobile is free in A)"),
    "GET /members": Listing(),
    "GET /members/export": Listing({"format": "csv"}),
    "GET /members/{member_id}": ById(lambda b: (f"/members/{b.member}", None)),
    "PATCH /members/{member_id}": ById(lambda b: (f"/members/{b.member}", {"first_name": "Hacked"})),
    "GET /members/{member_id}/balance": ById(lambda b: (f"/members/{b.member}/balance", None)),
    "GET /members/{member_id}/rewards": ById(lambda b: (f"/members/{b.member}/rewards", None)),
    "POST /members/{member_id}/rewards/{reward_id}/use": ById(lambda b: (f"/members/{b.member}/rewards/{b.reward}/use",
                                                                         {})),
    "GET /members/{member_id}/ledger": ById(lambda b: (f"/members/{b.member}/ledger", None)),
    "POST /members/{member_id}/cards": ById(lambda b: (f"/members/{b.member}/cards", {})),
    "GET /members/{member_id}/referral": ById(lambda b: (f"/members/{b.member}/referral", None)),
    "POST /members/{member_id}/conversions": ById(lambda b: (f"/members/{b.member}/conversions", {"points": 100})),
    "GET /reports/sign-ups": Listing(),
    "GET /reports/commissions": Listing(),
    "POST /purchases": ByBody(lambda b: ("/purchases", {"member": {"card": b.card}, "branch": "t1",
                                                         "receipt": "X-1", "total": 1000})),
    "GET /purchases": Listing(),
    "GET /purchases/{purchase_id}": ById(lambda b: (f"/purchases/{b.purchase}", None)),
    "POST /purchases/{purchase_id}/returns": ById(lambda b: (f"/purchases/{b.purchase}/returns", {"amount": 1})),
    "POST /purchases/{purchase_id}/cancel": ById(lambda b: (f"/purchases/{b.purchase}/cancel", {})),
    "POST /visits": ByBody(lambda b: ("/visits", {"member": {"phone": b.mobile}})),
    "POST /events": ByBody(lambda b: ("/events", {"member": {"code": b.member_code}, "name": "survey"})),
    "POST /adjustments": ByBody(lambda b: ("/adjustments", {"member_id": b.member, "currency": "points",
                                                             "amount": -5, "reason": "x"})),
    "POST /gift-credit/grants": ByBody(lambda b: ("/gift-credit/grants", {"amount": 5, "reason": "x",
                                                                           "member_ids": [b.member]})),
    "POST /gift-cards": ByBody(lambda b: ("/gift-cards", {"amount": 5, "sold_to": b.member})),
    "GET /gift-cards/{code}": ById(lambda b: (f"/gift-cards/{b.gift_card}", None)),
    "GET /business": Listing(),
    "GET /branches": Listing(),
    "POST /branches": OwnOnly("adds a branch to the caller's business"),
    "GET /audit": Listing(),
    "POST /webhooks": OwnOnly("registers an endpoint for the caller's business"),
    "GET /webhooks": Listing(),
    "GET /webhooks/{webhook_id}": ById(lambda b: (f"/webhooks/{b.webhook}", None)),
    "PATCH /webhooks/{webhook_id}": ById(lambda b: (f"/webhooks/{b.webhook}", {"active": False})),
    "DELETE /webhooks/{webhook_id}": ById(lambda b: (f"/webhooks/{b.webhook}", None)),
    "GET /webhooks/{webhook_id}/deliveries": ById(lambda b: (f"/webhooks/{b.webhook}/deliveries", None)),
    "POST /webhooks/{webhook_id}/test": ById(lambda b: (f"/webhooks/{b.webhook}/test", {})),
    "POST /integrations/woocommerce": OwnOnly("connects a shop to one of the caller's branches"),
    "GET /integrations/woocommerce": Listing(),
    "POST /woocommerce/{token}": OwnOnly("no key at all: the token names the connection and an HMAC of the body "
                                         "signed with its secret authenticates it (tests/woocommerce)"),
    "GET /gift-groups": Listing(),
    "POST /gift-groups": OwnOnly("adds a group to the caller's catalogue"),
    "GET /gifts": Listing({"all": "true"}),
    "POST /gifts": ByBody(lambda b: ("/gifts", {"title": "x", "price_currency": "coins", "price": 1,
                                                "group_id": b.group})),
    "GET /gifts/{gift_id}": ById(lambda b: (f"/gifts/{b.gift}", None)),
    "PATCH /gifts/{gift_id}": ById(lambda b: (f"/gifts/{b.gift}", {"title": "Hacked"})),
    "POST /gifts/{gift_id}/codes": ById(lambda b: (f"/gifts/{b.gift}/codes", {"codes": ["HACK-1"]})),
    "POST /gifts/{gift_id}/requests": ById(lambda b: (f"/gifts/{b.gift}/requests", {"member_id": b.member})),
    "GET /gift-requests": Listing(),
    "GET /gift-requests/{request_id}": ById(lambda b: (f"/gift-requests/{b.gift_request}", None)),
    "POST /gift-requests/{request_id}/fulfil": ById(lambda b: (f"/gift-requests/{b.gift_request}/fulfil", {})),
    "POST /gift-requests/{request_id}/reject": ById(lambda b: (f"/gift-requests/{b.gift_request}/reject", {})),
    "POST /gift-requests/{request_id}/ship": ById(lambda b: (f"/gift-requests/{b.gift_request}/ship", {})),
    "POST /vouchers": OwnOnly("defines a voucher for the caller's business"),
    "GET /vouchers": Listing(),
    "GET /vouchers/{voucher_id}": ById(lambda b: (f"/vouchers/{b.voucher}", None)),
    "POST /vouchers/{voucher_id}/codes": ById(lambda b: (f"/vouchers/{b.voucher}/codes", {"count": 1})),
    "POST /vouchers/validate": ByBody(lambda b: ("/vouchers/validate", {"code": b.voucher_code, "reserve": True})),
    "POST /vouchers/{voucher_id}/codes/import": ById(lambda b: (
        f"/vouchers/{b.voucher}/codes/import", {"file": SimpleUploadedFile("codes.csv", b"HACK1\nHACK2\n")})),
    "GET /plans": Listing(),
    "POST /members/{member_id}/subscriptions": ById(lambda b: (f"/members/{b.member}/subscriptions",
                                                               {"plan": "vip", "payment": "external"})),
    "GET /members/{member_id}/subscriptions": ById(lambda b: (f"/members/{b.member}/subscriptions", None)),
    "POST /subscriptions/{subscription_id}/stop-renewal": ById(lambda b: (
        f"/subscriptions/{b.subscription}/stop-renewal", {})),
    "GET /causes": Listing(),
    "POST /causes": OwnOnly("defines a cause of the caller's business"),
    "POST /members/{member_id}/donations": ById(lambda b: (f"/members/{b.member}/donations",
                                                           {"cause": "bsecret", "points": 1})),
    "GET /partners": Listing(),
    "POST /partners/{slug}": OwnOnly("records the caller's own consent to partner the business named by slug; "
                                     "nothing of that business is read or changed (tests/clubs)"),
    "DELETE /partners/{slug}": OwnOnly("withdraws the caller's own consent (tests/clubs)"),
    # without both businesses' consent: 403 no_partnership, and no member data
    "GET /messaging/settings": Listing(),
    "PUT /messaging/settings": OwnOnly("changes the caller's own messaging settings"),
    "GET /messaging/templates": Listing(),
    "PUT /messaging/templates": OwnOnly("changes the caller's own templates"),
    "POST /messaging/templates/preview": ByBody(lambda b: ("/messaging/templates/preview",
                                                           {"kind": "welcome", "member_id": b.member})),
    "POST /otp": OwnOnly("sends a code to a mobile for the caller's business; the answer is the same whoever "
                         "the mobile belongs to (tests/messaging)"),
    "POST /otp/verify": OwnOnly("checks a code the caller's business sent"),
    "POST /messaging/inbound/kavenegar/{token}": OwnOnly("no key: the secret token in the path names the business "
                                                         "(tests/messaging)"),
    "POST /messaging/opt-outs": ByBody(lambda b: ("/messaging/opt-outs", {"member_id": b.member})),
    "POST /messaging/broadcasts": OwnOnly("sends to an audience of the caller's own members"),
    "GET /messaging/broadcasts/{broadcast_id}": ById(lambda b: (f"/messaging/broadcasts/{b.broadcast}", None)),
    "GET /messaging/messages": Listing(),
    "POST /messages": ByBody(lambda b: ("/messages", {"member_id": b.member, "text": "hi"})),
    "GET /partners/{slug}/members": ById(lambda b: (f"/partners/{b.slug}/members?{urlencode({'mobile': b.mobile})}",
                                                    None), frozenset({403, 404})),
    "POST /receipts": OwnOnly("reports a receipt at one of the caller's own branches (a branch code is looked up "
                              "in the caller's business; tests/portal)"),
}


def api_operations() -> list[str]:
    """"METHOD /path" of every operation the API serves, from its OpenAPI document."""
    prefix = "/api/v1"
    return sorted(f"{method.upper()} {path.removeprefix(prefix)}"
                  for path, methods in api.get_openapi_schema()["paths"].items() for method in methods)


def test_every_operation_says_how_to_reach_another_business_object():
    operations = api_operations()
    unknown = [op for op in operations if op not in OPERATIONS]
    assert not unknown, ("new API operations without a tenant-isolation case; add each to OPERATIONS in "
                         f"tests/reliability/test_tenant_isolation.py: {unknown}")
    gone = sorted(set(OPERATIONS) - set(operations))
    assert not gone, f"OPERATIONS lists operations the API no longer has: {gone}"
    for op, case in OPERATIONS.items():  # an id in the path is either aimed at B or explained
        assert ("{" in op) == isinstance(case, ById) or isinstance(case, OwnOnly), op


@pytest.fixture
def theirs(other_business):
    """Business B with one object of every kind; every text it owns carries SECRET."""
    b = other_business
    activate_program(b, PROGRAM | {"plans": [VIP]})
    member = sign_up(b, mobile="09351112233", first_name=f"{SECRET}-first", last_name=f"{SECRET}-last")
    adjust(b, member.pk, "coins", 1000, reason=f"{SECRET} seed")
    adjust(b, member.pk, "points", 1000, reason=f"{SECRET} seed")
    card = issue_card(b, CardIssue.check(member.pk)).card
    purchase = record_purchase(b, member_id=member.pk, branch_code="main", receipt=f"{SECRET}-R1", total=5000,
                               lines=[{"sku": f"{SECRET}-sku", "name": f"{SECRET}-line", "quantity": 1,
                                       "unit_price": 5000}])
    reward = IssuedReward.objects.create(business=b, member_id=member.pk, rule_id="card", key="stamp:card:1",
                                         reward_code=f"{SECRET}-REWARD", name=f"{SECRET}-reward", reason=SECRET,
                                         issued_at=timezone.now())
    group = create_group(b, title=f"{SECRET}-group")
    gift = create_gift(b, title=f"{SECRET}-gift", price_currency="coins", price=10, stock=5, group_id=group.pk)
    gift_request = request_gift(b, member.pk, gift.pk)
    voucher = create_definition(b, name=f"{SECRET}-voucher", kind="fixed", amount=100)
    code = create_code(voucher, f"{SECRET}CODE")
    webhook = create_endpoint(b, url="https://bsecret.example/hook", events=["*"], description=f"{SECRET}-hook")
    woo = create_connection(b, branch_code="main")
    gift_card = issue_gift_card(b, amount=5000, sold_to=member, reason=f"{SECRET} card")
    key = create_api_key(b, scope="admin", name=f"{SECRET}-key")[1]
    subscription = subscribe(b, member.pk, "vip", payment="external")
    create_cause(b, code="bsecret", name=f"{SECRET}-cause")
    donate(b, member.pk, "bsecret", 10)
    queue_message(b, member=member, kind="manual", text=f"{SECRET} message")
    broadcast = create_broadcast(b, audience={}, text=f"{SECRET} offer")
    save_templates(b, [{"kind": "welcome", "language": "fa", "text": f"{SECRET} welcome {{link}}"}])
    claim = claim_purchase(b, member.pk, branch_code="main", receipt=f"{SECRET}-claim", amount=5000,
                           purchased_on=timezone.now().astimezone(ZoneInfo(b.timezone)).date())
    problem = sync_offline_purchase(b, Branch.objects.get(business=b, code="main"), key=f"{SECRET}-key",
                                    member_id=member.pk, receipt=f"{SECRET}-R2", total=-5, occurred_at=None,
                                    actor=Actor("operator", "1", SECRET), language="fa")  # refused: the amount
    assert problem["status"] == "problem"
    Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(f"/api/v1/members/{member.pk}")
    Client(HTTP_AUTHORIZATION=f"Bearer {key}").patch(f"/api/v1/members/{member.pk}", json.dumps({"job": SECRET}),
                                                     content_type="application/json")
    return SimpleNamespace(member=member.pk, mobile=member.mobile, member_code=member.code, card=card.number,
                           purchase=purchase["purchase_id"], group=group.pk, gift=gift.pk,
                           gift_request=gift_request["id"], voucher=voucher.pk, voucher_code=code.code,
                           webhook=webhook.pk, gift_card=gift_card.code, subscription=subscription["id"],
                           slug=b.slug, reward=reward.pk, broadcast=broadcast["id"], claim=claim.pk,
                           sync_problem=SyncProblem.objects.get(business=b).pk, woo_connection=woo.pk)


def snapshot() -> dict:
    """Every row of every Vafa table except A's own key bookkeeping (its rate counter too) and the audit trail."""
    skip = {"access.ApiKey", "access.AuditEvent", "core.RateCounter"}
    return {m._meta.label: sorted(map(repr, m._default_manager.values_list())) for m in apps.get_models()
            if m.__module__.startswith("vafa.") and m._meta.label not in skip}


def _call(client, method: str, path: str, body):
    if method == "get":
        return client.get(path)
    if isinstance(body, dict) and any(isinstance(v, SimpleUploadedFile) for v in body.values()):
        return client.client.post("/api/v1" + path, body)  # multipart
    return client._send(method, path, {} if body is None else body, None)


def _cases(kind) -> list[str]:
    return [op for op, case in OPERATIONS.items() if isinstance(case, kind)]


def test_another_business_objects_are_404_and_untouched(theirs, admin):
    """One pass over every operation aimed at B's objects (one fixture: the walk stays fast)."""
    failures = []
    for op in _cases(ById) + _cases(ByBody):
        case = OPERATIONS[op]
        path, body = case.build(theirs)
        before, rows = snapshot(), counts()
        response = _call(admin, op.split()[0].lower(), path, body)
        text = response.content.decode()
        if op == "POST /vouchers/validate":
            # a validation answers "not valid: not_found" (as for a code that never existed), echoing the code sent
            found = response.status_code == 200 and response.json()["reason"] == "not_found"
            text = text.replace(theirs.voucher_code, "")
        else:
            found = response.status_code in (case.statuses if isinstance(case, ById) else {404, 422}) and \
                response["Content-Type"].startswith("application/problem+json")
        rows.pop("access.AuditEvent")
        after = counts()
        after.pop("access.AuditEvent")
        if not found or SECRET in text or after != rows or snapshot() != before:
            failures.append((op, response.status_code, text[:200]))
    assert not failures, failures


def test_no_list_shows_another_business_rows(theirs, admin, business, member):
    for op in _cases(Listing):
        response = admin.get(op.split()[1], OPERATIONS[op].query)
        assert response.status_code == 200, (op, response.content[:300])
        text = b"".join(response.streaming_content) if response.streaming else response.content
        text = text.decode("utf-8")
        for leak in (SECRET, SECRET.lower(), theirs.mobile, theirs.member_code, theirs.card, theirs.gift_card):
            assert leak not in text, (op, leak)
        if op == "GET /audit":
            ids = {item["id"] for item in response.json()["items"]}
            assert ids and ids <= set(AuditEvent.objects.filter(business=business).values_list("pk", flat=True))


# --- the HTML side: admin, join page, login -------------------------------------------------------------------


def html_routes() -> list[str]:
    """Every non-API URL pattern, as its route text."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if not route.startswith("api/"):
                    walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns)
    return found


# Non-API pages that show tenant data and how the walk reaches them; pages under admin/ are Django admin's,
# scoped by its ModelAdmins (test below).
HTML_TENANT_PAGES = {"join/<slug:slug>/": "public sign-up page of one business, by its slug: shows only that "
                                          "business's name and program"}
# The member portal: every page is one business's (by its slug) and the member signed in to that business
# (vafa.portal.session: the session key is per business); tests/portal walks them with another business's ids.
HTML_TENANT_PAGES |= {f"m/<slug:slug>/{page}": "member portal page of the signed-in member of that business"
                      for page in ("", "history/", "points/", "gifts/", "offers/", "invite/", "profile/",
                                   "receipts/")}
HTML_TENANT_PAGES |= {"m/<slug:slug>/sign-in/": "portal sign-in by one-time code: the same answer for any mobile",
                      "m/<slug:slug>/join/": "joining after a proven code: only the mobile proven in this session",
                      "m/<slug:slug>/sign-out/": "ends this business's member session",
                      "m/<slug:slug>/manifest.webmanifest": "the business's name, for installing the portal",
                      "m/<slug:slug>/sw.js": "the portal's service worker, a static file",
                      "m/<slug:slug>/logo": "the business's public logo",
                      "m/<slug:slug>/contact/": "the business's own branches and contact, public, by its slug"}
HTML_PUBLIC = {"": "home", "login/": "login form", "logout/": "logout",
               "^api/": "any other path under /api: a problem+json 404, no data",
               "panel/login": "the back office's sign-in form", "panel/logout": "sign out",
               "panel/invite/<str:uid>/<str:token>": "an operator's one-time invitation: a signed token, nothing "
                                                     "shown without a valid one"}
# The back office: every other page is the signed-in operator's business (panel.auth.panel_view) and looks
# objects up with it; test_the_back_office_never_shows_or_changes_another_business walks them all with B's ids.
PANEL_IDS = {"member_id": "member", "purchase_id": "purchase", "webhook_id": "webhook", "number": "card",
             "operator_id": "operator", "key_id": "key", "reward_id": "reward", "branch_code": "own_branch",
             "claim_id": "claim", "voucher_id": "voucher", "request_id": "gift_request",
             "token": "foreign_token", "problem_id": "sync_problem", "kind": "template_kind",
             "plan_code": "plan", "subscription_id": "subscription", "gift_id": "gift",
             "connection_id": "woo_connection"}
PANEL_ACTIONS = {"panel/rewards/requests/<int:request_id>/<slug:action>": ["fulfil", "reject", "ship"],
                 "panel/members/<int:member_id>/<slug:action>": ["adjust", "grant", "convert"],
                 "panel/members/<int:member_id>/cards/<slug:action>": ["issue", "lost", "replace"],
                 "panel/settings/webhooks/<int:webhook_id>/<slug:action>": ["test", "retry", "delete"],
                 "panel/claims/<int:claim_id>/<slug:action>": ["approve", "reject"],
                 "panel/sync-problems/<int:problem_id>/<slug:action>": ["resolve", "dismiss"],
                 "panel/settings/woocommerce/<int:connection_id>/<slug:action>": ["rotate", "deactivate"]}


# Lists named by a slug: each is walked, and must show none of B's rows.
PANEL_LISTS = {"panel/reports/<slug:slug>": [report.slug for report in REPORTS] + ["audit"]}


def panel_routes() -> list[str]:
    """The back office's and the till's pages (the till's branch is A's own: B's objects are what is aimed at)."""
    return [r for r in html_routes() if r.startswith(("panel/", "till/")) and r not in HTML_PUBLIC]


def _panel_paths(route: str, ids: dict) -> list[str]:
    path = route
    for name, key in PANEL_IDS.items():
        path = (path.replace(f"<int:{name}>", str(ids[key])).replace(f"<str:{name}>", str(ids[key]))
                .replace(f"<slug:{name}>", str(ids[key])))
    if route in PANEL_LISTS:
        return [path.replace("<slug:slug>", slug) for slug in PANEL_LISTS[route]]
    return [path.replace("<slug:action>", action) for action in PANEL_ACTIONS.get(route, [None])] \
        if "<slug:action>" in path else [path]
# The till (issue 16): every page is the signed-in operator's business only (panel_view → the API's Principal);
# the branch in the route is looked up in that business and must be one of a cashier's branches
# (tests/till/test_views.py); the manifest and the service worker hold no tenant data.
TILL = "the signed-in operator's business, the branch checked with require_branch"
HTML_TENANT_PAGES |= {f"till/{route}": TILL for route in (
    "", "<slug:branch_code>/", "<slug:branch_code>/signup", "<slug:branch_code>/today",
    "<slug:branch_code>/problems", "<slug:branch_code>/cache.json", "<slug:branch_code>/sync",
    "<slug:branch_code>/m/<int:member_id>/", "<slug:branch_code>/m/<int:member_id>/preview",
    "<slug:branch_code>/m/<int:member_id>/purchase", "<slug:branch_code>/m/<int:member_id>/visit",
    "<slug:branch_code>/m/<int:member_id>/card", "<slug:branch_code>/m/<int:member_id>/rewards/<int:reward_id>/use",
    "<slug:branch_code>/p/<int:purchase_id>/return")}
HTML_PUBLIC |= {"media/gifts/<str:name>": "a gift picture by its random 128-bit name (public like the catalogue "
                                          "it shows; no list, no id)"}
HTML_PUBLIC |= {"till/manifest.webmanifest": "the till's web manifest", "till/sw.js": "the till's service worker"}


def test_every_html_route_is_classified():
    unknown = [r for r in html_routes() if not r.startswith(("admin/", "panel/")) and r not in HTML_TENANT_PAGES
               and r not in HTML_PUBLIC]
    assert not unknown, f"new pages: say in HTML_TENANT_PAGES or HTML_PUBLIC how they are scoped: {unknown}"


def test_the_admin_is_the_platform_console_closed_to_business_staff(theirs, business, client):
    """Django admin is not scoped per business: only platform staff get in. A business owner (an operator, not
    staff) is sent to the admin login from every change list and from B's objects' change pages."""
    from django.contrib import admin as django_admin

    create_operator(business, username="owner-a", password="a long password 123", role="owner")
    assert client.login(username="owner-a", password="a long password 123")
    for model in django_admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        foreign = model._default_manager.exclude(**{"business": business} if hasattr(model, "business_id") else {})
        for url in [base] + [f"{base}{row.pk}/change/" for row in foreign[:1]]:
            page = client.get(url)
            assert page.status_code == 302 and page["Location"].startswith("/admin/login/"), (url, page.status_code)


def test_join_page_shows_only_its_business(theirs, business, client):
    page = client.get(f"/join/{business.slug}/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()


# --- branch binding: what a key or cashier bound to branches may do (docs/architecture.md) -------------------


@dataclass(frozen=True)
class InBranch:
    """The operation acts in a branch (named in the body, or the purchase's): outside the caller's branches it
    is a 403 branch_not_allowed. build(a) aims it at A's branch v2; the caller is bound to t1."""

    build: object


@dataclass(frozen=True)
class WholeBusiness:
    """Business-wide (the admin scope, exports, reports): a caller bound to branches gets 403 branch_bound.
    build(a, b) gives a valid request (None: the tenant-isolation case's own request, aimed at B)."""

    build: object = None


@dataclass(frozen=True)
class Anywhere:
    """Allowed in every branch of the business; the reason says why."""

    reason: str


CUSTOMER = "the customer belongs to the club, not to a branch: any till serves them"
BRANCH_BINDING = {
    "GET /program": Anywhere("the till shows what purchases earn"),
    "PUT /program": WholeBusiness(lambda a, b: ("/program", {"rules": []})),
    "POST /program/simulate": InBranch(lambda a: ("/program/simulate", {"member": {"member_id": a.member},
                                                                        "branch": "v2", "total": 1000})),
    "POST /members": Anywhere(CUSTOMER),
    "GET /members": Anywhere(CUSTOMER),
    "GET /members/export": WholeBusiness(lambda a, b: ("/members/export?format=csv", None)),
    "GET /members/{member_id}": Anywhere(CUSTOMER),
    "PATCH /members/{member_id}": Anywhere(CUSTOMER),
    "GET /members/{member_id}/balance": Anywhere(CUSTOMER),
    "GET /members/{member_id}/ledger": Anywhere(CUSTOMER),
    "POST /members/{member_id}/cards": Anywhere(CUSTOMER),
    "GET /members/{member_id}/referral": Anywhere(CUSTOMER),
    "POST /members/{member_id}/conversions": Anywhere(CUSTOMER),
    "GET /reports/sign-ups": WholeBusiness(lambda a, b: ("/reports/sign-ups", None)),
    "GET /reports/commissions": WholeBusiness(lambda a, b: ("/reports/commissions", None)),
    "POST /purchases": InBranch(lambda a: ("/purchases", {"member": {"member_id": a.member}, "branch": "v2",
                                                          "receipt": "BB-1", "total": 1000})),
    "GET /purchases": Anywhere("answers only the caller's branches' purchases (tests/api)"),
    "GET /purchases/{purchase_id}": InBranch(lambda a: (f"/purchases/{a.v2_purchase}", None)),
    "POST /purchases/{purchase_id}/returns": InBranch(lambda a: (f"/purchases/{a.v2_purchase}/returns",
                                                                 {"amount": 1})),
    "POST /purchases/{purchase_id}/cancel": InBranch(lambda a: (f"/purchases/{a.v2_purchase}/cancel", {})),
    "POST /visits": InBranch(lambda a: ("/visits", {"member": {"member_id": a.member}, "branch": "v2"})),
    "POST /events": Anywhere("an event (a survey, an app install) happens at no branch"),
    "POST /adjustments": WholeBusiness(),
    "POST /gift-credit/grants": WholeBusiness(),
    "POST /gift-cards": WholeBusiness(),
    "GET /gift-cards/{code}": Anywhere("a gift card is spent at any till"),
    "GET /business": Anywhere("the business's name, currency and calendar"),
    "GET /branches": Anywhere("the till needs the branch codes"),
    "POST /branches": WholeBusiness(lambda a, b: ("/branches", {"code": "n9", "name": "N"})),
    "GET /audit": WholeBusiness(lambda a, b: ("/audit", None)),
    "POST /webhooks": WholeBusiness(lambda a, b: ("/webhooks", {"url": "https://a.example/h", "events": ["*"]})),
    "GET /webhooks": WholeBusiness(lambda a, b: ("/webhooks", None)),
    "GET /webhooks/{webhook_id}": WholeBusiness(),
    "PATCH /webhooks/{webhook_id}": WholeBusiness(),
    "DELETE /webhooks/{webhook_id}": WholeBusiness(),
    "GET /webhooks/{webhook_id}/deliveries": WholeBusiness(),
    "POST /webhooks/{webhook_id}/test": WholeBusiness(),
    "POST /integrations/woocommerce": InBranch(lambda a: ("/integrations/woocommerce", {"branch": "v2"})),
    "GET /integrations/woocommerce": WholeBusiness(lambda a, b: ("/integrations/woocommerce", None)),
    "POST /woocommerce/{token}": Anywhere("no key: the shop's signed delivery names its connection and branch"),
    "GET /gift-groups": Anywhere("the catalogue members see"),
    "POST /gift-groups": WholeBusiness(lambda a, b: ("/gift-groups", {"title": "G"})),
    "GET /gifts": Anywhere("the catalogue members see; all=true (hidden gifts too) needs the admin scope"),
    "POST /gifts": WholeBusiness(),
    "GET /gifts/{gift_id}": Anywhere("the catalogue members see"),
    "PATCH /gifts/{gift_id}": WholeBusiness(),
    "POST /gifts/{gift_id}/codes": WholeBusiness(),
    "POST /gifts/{gift_id}/requests": Anywhere(CUSTOMER),
    "GET /gift-requests": Anywhere("gifts are handed out or shipped from any branch"),
    "GET /gift-requests/{request_id}": Anywhere("gifts are handed out or shipped from any branch"),
    "POST /gift-requests/{request_id}/fulfil": Anywhere("gifts are handed out or shipped from any branch"),
    "POST /gift-requests/{request_id}/reject": Anywhere("gifts are handed out or shipped from any branch"),
    "POST /gift-requests/{request_id}/ship": Anywhere("gifts are handed out or shipped from any branch"),
    "POST /vouchers": WholeBusiness(lambda a, b: ("/vouchers", {"name": "v", "kind": "fixed", "amount": 1})),
    "GET /vouchers": Anywhere("the till shows the running vouchers"),
    "GET /vouchers/{voucher_id}": Anywhere("the till shows the running vouchers"),
    "POST /vouchers/{voucher_id}/codes": WholeBusiness(),
    "POST /vouchers/validate": InBranch(lambda a: ("/vouchers/validate", {"code": "ANY", "branch": "v2"})),
    "POST /vouchers/{voucher_id}/codes/import": WholeBusiness(),
    "GET /plans": Anywhere(CUSTOMER),
    "POST /members/{member_id}/subscriptions": Anywhere(CUSTOMER),
    "GET /members/{member_id}/subscriptions": Anywhere(CUSTOMER),
    "POST /subscriptions/{subscription_id}/stop-renewal": Anywhere(CUSTOMER),
    "GET /causes": Anywhere(CUSTOMER),
    "POST /causes": WholeBusiness(lambda a, b: ("/causes", {"code": "c9", "name": "C"})),
    "POST /members/{member_id}/donations": Anywhere(CUSTOMER),
    "GET /partners": Anywhere("which partners' members the till may recognise"),
    "POST /partners/{slug}": WholeBusiness(lambda a, b: (f"/partners/{b.slug}", {})),
    "DELETE /partners/{slug}": WholeBusiness(lambda a, b: (f"/partners/{b.slug}", None)),
    "GET /partners/{slug}/members": Anywhere(CUSTOMER),
    "GET /members/{member_id}/rewards": Anywhere(CUSTOMER),
    "POST /members/{member_id}/rewards/{reward_id}/use": InBranch(
        lambda a: (f"/members/{a.member}/rewards/0/use", {"branch": "v2"})),
    "GET /messaging/settings": WholeBusiness(lambda a, b: ("/messaging/settings", None)),
    "PUT /messaging/settings": WholeBusiness(lambda a, b: ("/messaging/settings", {"sms_provider": "none"})),
    "GET /messaging/templates": WholeBusiness(lambda a, b: ("/messaging/templates", None)),
    "PUT /messaging/templates": WholeBusiness(lambda a, b: ("/messaging/templates", [])),
    "POST /messaging/broadcasts": WholeBusiness(lambda a, b: ("/messaging/broadcasts",
                                                              {"audience": {}, "text": "x", "dry_run": True})),
    "GET /messaging/broadcasts/{broadcast_id}": Anywhere("a broadcast's counts by state: no member's data"),
    "GET /messaging/messages": Anywhere(CUSTOMER),
    "POST /messaging/templates/preview": Anywhere("renders a text for one member; writes nothing"),
    "POST /messages": Anywhere(CUSTOMER),
    "POST /messaging/opt-outs": Anywhere(CUSTOMER),
    "POST /receipts": InBranch(lambda a: ("/receipts", {"branch": "v2", "receipt": "X", "total": 1,
                                                        "occurred_at": "2026-01-01T10:00:00Z"})),
    "POST /messaging/inbound/kavenegar/{token}": Anywhere("no key: the provider's callback, named by its token"),
    "POST /otp": Anywhere(CUSTOMER),
    "POST /otp/verify": Anywhere(CUSTOMER),
}


def test_every_operation_says_what_a_branch_bound_caller_may_do():
    operations = api_operations()
    unknown = [op for op in operations if op not in BRANCH_BINDING]
    assert not unknown, ("new API operations without a branch-binding case; add each to BRANCH_BINDING in "
                         f"tests/reliability/test_tenant_isolation.py (and docs/architecture.md): {unknown}")
    assert sorted(set(BRANCH_BINDING) - set(operations)) == []


def test_a_branch_bound_caller_stays_in_its_branches(theirs, business, member, api_client):
    from vafa.tenancy.models import Branch

    v2 = record_purchase(business, member_id=member.pk, branch_code="v2", receipt="V2-1", total=5000)
    a = SimpleNamespace(member=member.pk, v2_purchase=v2["purchase_id"])
    bound = api_client(create_api_key(business, scope="admin", branch=Branch.objects.get(business=business,
                                                                                          code="t1"))[1])
    failures = []
    for op, case in BRANCH_BINDING.items():
        if isinstance(case, Anywhere):
            continue
        if isinstance(case, InBranch):
            (path, body), expected = case.build(a), "branch_not_allowed"
        else:
            (path, body), expected = (case.build(a, theirs) if case.build else OPERATIONS[op].build(theirs),
                                      "branch_bound")
        before = counts()
        response = _call(bound, op.split()[0].lower(), path, body)
        answer = response.json() if response["Content-Type"].startswith("application/") and \
            not response.streaming else None
        code = answer.get("code") if isinstance(answer, dict) else None
        if response.status_code != 403 or code != expected or counts() != before:
            failures.append((op, response.status_code, code))
    assert not failures, failures


def test_the_back_office_never_shows_or_changes_another_business(theirs, business, other_business, client):
    """A's owner walks every back-office page: with B's ids in the path (GET and POST) the answer is a 403/404
    and nothing is written; the lists and the dashboard never show B's text."""
    operator = create_operator(other_business, username="b-manager", password=None, role="manager")
    ids = vars(theirs) | {"operator": operator.pk, "key": create_api_key(other_business, name=SECRET)[0].pk,
                          "own_branch": "t1", "foreign_token": "not-a-token-of-this-session",
                          "template_kind": "welcome",  # A's own template page: B's text must not show
                          "plan": "vip"}
    create_operator(business, username="owner-a", password="a long password 123", role="owner")
    assert client.login(username="owner-a", password="a long password 123")
    before = snapshot()
    for route in panel_routes():
        for path in _panel_paths(route, ids):
            url = "/" + path
            for method in ("get", "post"):
                answer = getattr(client, method)(url)
                assert SECRET not in answer.content.decode(errors="replace"), (method, url)
                if route not in PANEL_LISTS and any(f"<{kind}:" in route for kind in ("int", "str")):
                    assert answer.status_code in (403, 404, 405), (method, url, answer.status_code)
    assert snapshot() == before
