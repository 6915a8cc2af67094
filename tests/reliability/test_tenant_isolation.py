"""Tenant isolation, walked over the URL map: every operation of the API is listed in OPERATIONS with how to aim
it at business B's objects; business A's admin key then gets a 404 problem and changes nothing, and no list
answers any of B's rows. A new endpoint fails here until someone says how to build its object."""

import json
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlencode

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
from vafa.api import api
from vafa.catalogue.services import create_gift, create_group, request_gift
from vafa.clubs.services import create_cause, donate, subscribe
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.services import adjust
from vafa.members.services import issue_card, sign_up
from vafa.program.services import activate_program
from vafa.purchases.models import IssuedReward
from vafa.purchases.services import record_purchase
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
    "GET /partners/{slug}/members": ById(lambda b: (f"/partners/{b.slug}/members?{urlencode({'mobile': b.mobile})}",
                                                    None), frozenset({403, 404})),
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
    card = issue_card(b, member.pk)
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
    create_connection(b, branch_code="main")
    gift_card = issue_gift_card(b, amount=5000, sold_to=member, reason=f"{SECRET} card")
    key = create_api_key(b, scope="admin", name=f"{SECRET}-key")[1]
    subscription = subscribe(b, member.pk, "vip", payment="external")
    create_cause(b, code="bsecret", name=f"{SECRET}-cause")
    donate(b, member.pk, "bsecret", 10)
    Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(f"/api/v1/members/{member.pk}")
    Client(HTTP_AUTHORIZATION=f"Bearer {key}").patch(f"/api/v1/members/{member.pk}", json.dumps({"job": SECRET}),
                                                     content_type="application/json")
    return SimpleNamespace(member=member.pk, mobile=member.mobile, member_code=member.code, card=card.number,
                           purchase=purchase["purchase_id"], group=group.pk, gift=gift.pk,
                           gift_request=gift_request["id"], voucher=voucher.pk, voucher_code=code.code,
                           webhook=webhook.pk, gift_card=gift_card.code, subscription=subscription["id"],
                           slug=b.slug, reward=reward.pk)


def snapshot() -> dict:
    """Every row of every Vafa table except A's own key bookkeeping and the audit trail."""
    skip = {"access.ApiKey", "access.AuditEvent"}
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
HTML_PUBLIC = {"": "home", "login/": "login form", "logout/": "logout"}
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
HTML_PUBLIC |= {"till/manifest.webmanifest": "the till's web manifest", "till/sw.js": "the till's service worker"}


def test_every_html_route_is_classified():
    unknown = [r for r in html_routes() if not r.startswith("admin/") and r not in HTML_TENANT_PAGES
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
