"""The REST API v1 end to end through django.test.Client: success with exact values, 422 problems that name the
field and write nothing, scopes, tenant isolation, idempotent replays, languages, cursor pages, operators."""

import datetime as dt
import json
import os

import pytest
from django.apps import apps
from django.middleware.csrf import get_token
from django.test import Client, RequestFactory
from django.utils import timezone

from vafa.access.services import create_operator
from vafa.core.luhn import check_digit
from vafa.core.luhn import is_valid as luhn_valid
from vafa.ledger.services import adjust
from vafa.members.models import Card, Member
from vafa.members.services import issue_card, sign_up
from vafa.program.models import ProgramVersion
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase
from vafa.tenancy.models import Branch

from .conftest import ApiClient, assert_problem

ON_POSTGRES = os.environ.get("VAFA_DATABASE_URL", "").startswith("postgres")

# --- helpers -----------------------------------------------------------------------------------------------

ZERO = {"available": 0, "pending": 0}
TIERS = {"basis": "spend", "window_days": 365, "levels": [
    {"code": "bronze", "name": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
    {"code": "silver", "name": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 5_000_000, "multiplier": 2},
    {"code": "gold", "name": {"fa": "طلایی", "en": "Gold"}, "threshold": 20_000_000, "multiplier": 3,
     "discount_percent": 5},
]}
LOYALTY_TABLE = {"rates": [{"points": 100, "value": 10_000}]}
# The conftest PROGRAM as GET /program shows it: defaults left out.
PROGRAM_AS_SHOWN = {
    "settings": {"currencies": {"points": {"expiry_days": 365}, "wallet": {"expiry_days": 180}}},
    "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10}],
    "tiers": {"levels": TIERS["levels"]},
    "loyalty_table": LOYALTY_TABLE,
}
ACTIVITY_PROGRAM = {
    "rules": [
        {"id": "base", "kind": "earn", "per": 100_000, "award": 10},
        {"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
        {"id": "survey", "kind": "earn", "on": "event", "event": "survey_completed", "basis": "fixed", "award": 50},
    ],
    "tiers": TIERS,
    "loyalty_table": LOYALTY_TABLE,
}


def counts() -> dict[str, int]:
    """Rows per table of every Vafa model: equal before and after means nothing was written (the rate counters
    count every request, refused or not)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()
            if model.__module__.startswith("vafa.") and model._meta.label != "core.RateCounter"}


def stored() -> dict[str, int]:
    """counts() without the audit trail: a replay is answered (and audited) but stores nothing else."""
    rows = counts()
    rows.pop("access.AuditEvent")
    return rows


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.content.decode())
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def same_moment(text: str, moment: dt.datetime) -> bool:
    """JSON times carry milliseconds: the stored time truncated to them."""
    return at(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def balance(points=ZERO, coins=ZERO, wallet=ZERO, gift_credit=ZERO) -> dict:
    return {"points": dict(points), "coins": dict(coins), "wallet": dict(wallet), "gift_credit": dict(gift_credit)}


def available(points=0, coins=0, wallet=0, gift_credit=0) -> dict:
    return balance({"available": points, "pending": 0}, {"available": coins, "pending": 0},
                   {"available": wallet, "pending": 0}, {"available": gift_credit, "pending": 0})


def purchase_body(member, receipt="R-1", total=250_000, branch="t1", **extra) -> dict:
    ref = member if isinstance(member, dict) else {"member_id": member.pk}
    return {"member": ref, "branch": branch, "receipt": receipt, "total": total, **extra}


def seed_points(business, member, amount: int) -> None:
    adjust(business, member.pk, "points", amount, reason="seed")


def member_json(member: Member) -> dict:
    member.refresh_from_db()
    return {"id": member.pk, "code": member.code, "mobile": member.mobile, "first_name": member.first_name,
            "last_name": member.last_name, "email": member.email,
            "birth_date": member.birth_date.isoformat() if member.birth_date else None,
            "anniversary": member.anniversary.isoformat() if member.anniversary else None,
            "gender": member.gender, "job": member.job, "education": member.education,
            "interests": member.interests, "join_source": member.join_source, "status": member.status,
            "tier": member.tier or None}


def without_joined(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "joined_at"}


def assert_replay(first, again) -> None:
    assert again.status_code == first.status_code
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert not first.has_header("Idempotent-Replayed")


@pytest.fixture
def card(business, member):
    return issue_card(business, member.pk, kind="magnetic")


@pytest.fixture
def purchase(business, member):
    """A completed purchase at t1: 1,000,000 Toman, two lines, 100 points earned."""
    result = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="P-100", total=1_000_000,
                             lines=[{"sku": "A", "name": "اسپرسو", "quantity": 2, "unit_price": 300_000},
                                    {"sku": "B", "name": "کیک", "quantity": 1, "unit_price": 400_000}])
    return Purchase.objects.get(pk=result["purchase_id"])


@pytest.fixture
def v2_purchase(business, member):
    result = record_purchase(business, member_id=member.pk, branch_code="v2", receipt="V-1", total=500_000)
    return Purchase.objects.get(pk=result["purchase_id"])


@pytest.fixture
def other_member(other_business):
    return sign_up(other_business, mobile="09351234567", first_name="Sam")


@pytest.fixture
def other_card(other_business, other_member):
    return issue_card(other_business, other_member.pk)


@pytest.fixture
def other_purchase(other_business, other_member):
    result = record_purchase(other_business, member_id=other_member.pk, branch_code="main", receipt="O-1",
                             total=5_000)
    return Purchase.objects.get(pk=result["purchase_id"])


# --- authentication and language ----------------------------------------------------------------------------


class TestAuthentication:
    @pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                        "Bearer vk_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
    def test_missing_or_invalid_key_is_401_with_www_authenticate(self, business, header):
        client = Client()
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get("/api/v1/program", **extra)
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"

    def test_a_key_with_a_wrong_secret_or_revoked_is_401(self, business, read_key):
        wrong = read_key[:-4] + ("AAAA" if not read_key.endswith("AAAA") else "BBBB")
        assert_problem(ApiClient(wrong).get("/program"), 401, "unauthorized")
        from vafa.access.models import ApiKey

        ApiKey.objects.filter(business=business).update(revoked_at=timezone.now())
        response = ApiClient(read_key).get("/program")
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"

    def test_a_post_without_key_is_401_and_writes_nothing(self, business):
        before = counts()
        response = ApiClient().post("/members", {"mobile": "09121112233"})
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"
        assert counts() == before

    @pytest.mark.parametrize("header", [None, "Bearer nope"])
    def test_a_post_without_valid_key_from_a_real_client_is_401(self, business, header):
        client = Client(enforce_csrf_checks=True)
        extra = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.post("/api/v1/members", json.dumps({"mobile": "09121112233"}),
                               content_type="application/json", **extra)
        assert_problem(response, 401, "unauthorized")
        assert response["WWW-Authenticate"] == "Bearer"


class TestLanguage:
    def test_persian_by_default_and_for_fa(self, reader):
        for headers in (None, {"Accept-Language": "fa"}, {"Accept-Language": "fa-IR,fa;q=0.9"}):
            response = reader.get("/members/999999", headers=headers)
            body = assert_problem(response, 404, "member_not_found")
            assert body["title"] == "پیدا نشد"
            assert body["detail"] == "عضو پیدا نشد"
            assert response["Content-Language"] == "fa"

    def test_english_for_en(self, reader, writer):
        response = reader.get("/members/999999", headers={"Accept-Language": "en"})
        body = assert_problem(response, 404, "member_not_found")
        assert (body["title"], body["detail"]) == ("Not found", "Member not found")
        assert response["Content-Language"] == "en"
        response = writer.post("/members", {"mobile": "12"}, headers={"Accept-Language": "en-US,en;q=0.8"})
        body = assert_problem(response, 422, "invalid_input", fields=["mobile"])
        assert body["title"] == "The input is not valid"
        assert body["errors"][0]["message"] == "is not a valid phone number"

    def test_field_messages_in_persian(self, writer):
        body = assert_problem(writer.post("/members", {"mobile": "12"}), 422, "invalid_input", fields=["mobile"])
        assert body["title"] == "ورودی نامعتبر است"
        assert body["errors"][0]["message"] == "شماره تلفن معتبر نیست"

    def test_unauthorized_in_english(self, business):
        body = assert_problem(ApiClient().get("/program", headers={"Accept-Language": "en"}), 401)
        assert body["detail"] == "A valid key or login is needed"


# --- scopes: every write with too narrow a key is a 403 problem and writes nothing ---------------------------


def _endpoints(ids):
    """(method, path, body, scope needed) for every write."""
    m, p = ids["member_id"], ids["purchase_id"]
    return [
        ("post", "/members", {"mobile": "09121119999"}, "write"),
        ("patch", f"/members/{m}", {"first_name": "X"}, "write"),
        ("post", f"/members/{m}/cards", {}, "write"),
        ("post", "/purchases", {"member": {"member_id": m}, "branch": "t1", "receipt": "S-1", "total": 100_000},
         "write"),
        ("post", f"/purchases/{p}/returns", {"amount": 1000}, "write"),
        ("post", f"/purchases/{p}/cancel", {}, "write"),
        ("post", "/visits", {"member": {"member_id": m}, "branch": "t1"}, "write"),
        ("post", "/events", {"member": {"member_id": m}, "name": "survey_completed"}, "write"),
        ("post", "/adjustments", {"member_id": m, "currency": "points", "amount": 5, "reason": "x"}, "admin"),
        ("post", "/branches", {"code": "n1", "name": "N"}, "admin"),
        ("put", "/program", {"rules": []}, "admin"),
    ]


ENDPOINT_NAMES = ["members.create", "members.patch", "cards", "purchases", "returns", "cancel", "visits",
                  "events", "adjustments", "branches", "program.put"]


class TestScopes:
    @pytest.mark.parametrize("index", range(len(ENDPOINT_NAMES)), ids=ENDPOINT_NAMES)
    def test_too_narrow_a_key_is_403_and_writes_nothing(self, index, business, member, purchase, api_client,
                                                        read_key, write_key):
        method, path, body, needed = _endpoints({"member_id": member.pk, "purchase_id": purchase.pk})[index]
        narrow = [read_key] if needed == "write" else [read_key, write_key]
        for key in narrow:
            before, member_before = counts(), member_json(member)
            response = getattr(api_client(key), method)(path, body)
            assert_problem(response, 403, "scope_too_narrow")
            assert response.json()["needed"] == needed
            assert counts() == before
            assert member_json(member) == member_before

    def test_reads_work_with_a_read_key(self, reader, member, purchase):
        for path in ("/program", "/members", f"/members/{member.pk}", f"/members/{member.pk}/balance",
                     f"/members/{member.pk}/ledger", "/purchases", f"/purchases/{purchase.pk}", "/business",
                     "/branches"):
            ok(reader.get(path))

    def test_a_read_key_may_simulate_and_dry_run(self, reader, member):
        before = counts()
        ok(reader.post("/program/simulate", {"member": {"member_id": member.pk}, "branch": "t1", "total": 100_000}))
        ok(reader.post("/purchases", purchase_body(member, dry_run=True)))
        assert counts() == before


# --- tenant isolation: another business's objects are 404 problems, both ways --------------------------------


def _by_id(ids, own_branch):
    m, p = ids["member_id"], ids["purchase_id"]
    return [
        ("get", f"/members/{m}", None, "member_not_found"),
        ("patch", f"/members/{m}", {"first_name": "Hacked"}, "member_not_found"),
        ("get", f"/members/{m}/balance", None, "member_not_found"),
        ("get", f"/members/{m}/ledger", None, "member_not_found"),
        ("post", f"/members/{m}/cards", {}, "member_not_found"),
        ("get", f"/purchases/{p}", None, "purchase_not_found"),
        ("post", f"/purchases/{p}/returns", {"amount": 1}, "purchase_not_found"),
        ("post", f"/purchases/{p}/cancel", {}, "purchase_not_found"),
        ("post", "/purchases", {"member": {"member_id": m}, "branch": own_branch, "receipt": "X", "total": 1},
         "member_not_found"),
        ("post", "/purchases", {"member": {"phone": ids["mobile"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/purchases", {"member": {"card": ids["card"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/purchases", {"member": {"code": ids["code"]}, "branch": own_branch, "receipt": "X",
                                "total": 1}, "member_not_found"),
        ("post", "/program/simulate", {"member": {"member_id": m}, "branch": own_branch, "total": 1},
         "member_not_found"),
        ("post", "/visits", {"member": {"member_id": m}}, "member_not_found"),
        ("post", "/events", {"member": {"member_id": m}, "name": "survey_completed"}, "member_not_found"),
        ("post", "/adjustments", {"member_id": m, "currency": "points", "amount": 5, "reason": "x"},
         "member_not_found"),
    ]


ISOLATION_NAMES = ["member.get", "member.patch", "balance", "ledger", "cards", "purchase.get", "returns",
                   "cancel", "purchase.by_id", "purchase.by_phone", "purchase.by_card", "purchase.by_code",
                   "simulate", "visits", "events", "adjustments"]


class TestTenantIsolation:
    @pytest.mark.parametrize("index", range(len(ISOLATION_NAMES)), ids=ISOLATION_NAMES)
    def test_cafe_objects_are_404_for_the_other_business(self, index, business, member, card, purchase,
                                                         outsider):
        ids = {"member_id": member.pk, "purchase_id": purchase.pk, "mobile": member.mobile,
               "card": card.number, "code": member.code}
        method, path, body, code = _by_id(ids, "main")[index]
        before, member_before = counts(), member_json(member)
        response = getattr(outsider, method)(path, body) if body is not None else outsider.get(path)
        assert_problem(response, 404, code)
        assert counts() == before
        assert member_json(member) == member_before

    @pytest.mark.parametrize("index", range(len(ISOLATION_NAMES)), ids=ISOLATION_NAMES)
    def test_other_business_objects_are_404_for_the_cafe(self, index, other_member, other_card, other_purchase,
                                                         admin):
        ids = {"member_id": other_member.pk, "purchase_id": other_purchase.pk, "mobile": other_member.mobile,
               "card": other_card.number, "code": other_member.code}
        method, path, body, code = _by_id(ids, "t1")[index]
        before, member_before = counts(), member_json(other_member)
        response = getattr(admin, method)(path, body) if body is not None else admin.get(path)
        assert_problem(response, 404, code)
        assert counts() == before
        assert member_json(other_member) == member_before

    def test_lists_show_only_the_callers_business(self, member, card, purchase, other_member, other_purchase,
                                                  admin, outsider):
        assert [m["id"] for m in ok(admin.get("/members"))["items"]] == [member.pk]
        assert [m["id"] for m in ok(outsider.get("/members"))["items"]] == [other_member.pk]
        for query in ({"phone": member.mobile}, {"card": card.number}, {"code": member.code}, {"q": "علی"}):
            assert ok(outsider.get("/members", query)) == {"items": [], "next_cursor": None}
        assert [p["id"] for p in ok(admin.get("/purchases"))["items"]] == [purchase.pk]
        assert [p["id"] for p in ok(outsider.get("/purchases"))["items"]] == [other_purchase.pk]
        assert ok(outsider.get("/purchases", {"member_id": member.pk}))["items"] == []
        assert [b["code"] for b in ok(outsider.get("/branches"))] == ["main"]
        assert ok(outsider.get("/business"))["slug"] == "other"

    def test_a_referral_code_of_another_business_is_unknown(self, writer, other_member):
        before = counts()
        response = writer.post("/members", {"mobile": "09121112233", "referral_code": other_member.code})
        body = assert_problem(response, 422, "invalid_input", fields=["referral_code"])
        assert body["errors"][0]["code"] == "unknown_referral_code"
        assert counts() == before

    def test_idempotency_keys_are_per_business(self, member, other_member, writer, outsider):
        first = writer.post("/members", {"mobile": "09121112233"}, idem="shared-key")
        ok(first, 201)
        second = outsider.post("/members", {"mobile": "09121112233"}, idem="shared-key")
        ok(second, 201)
        assert not second.has_header("Idempotent-Replayed")
        assert second.json()["id"] != first.json()["id"]


# --- program -----------------------------------------------------------------------------------------------


class TestProgram:
    def test_get(self, reader, outsider):
        assert ok(reader.get("/program")) == {"version": 2, "document": PROGRAM_AS_SHOWN}
        other = ok(outsider.get("/program"))
        assert other["version"] == 1 and other["document"]["rules"][0]["per"] == 1_000  # the USD starter

    def test_put_activates_a_new_version(self, admin, reader, business):
        document = {"rules": [{"id": "double", "kind": "earn", "per": 100_000, "award": 20}],
                    "loyalty_table": LOYALTY_TABLE}
        body = ok(admin.put("/program", document))
        assert body == {"version": 3, "document": document}
        assert ok(reader.get("/program")) == {"version": 3, "document": document}
        assert list(ProgramVersion.objects.filter(business=business, active=True).values_list("version", flat=True)) == [3]
        from vafa.access.models import AuditEvent

        event = AuditEvent.objects.get(business=business, object_type="program")
        assert (event.action, event.object_id, event.status_code) == ("PUT /api/v1/program", "3", 200)

    def test_put_lists_every_problem_and_writes_nothing(self, admin, reader):
        before = counts()
        bad = {"rules": [{"id": "base", "kind": "earn", "per": 0, "award": -1}]}
        body = assert_problem(admin.put("/program", bad), 422, "invalid_input",
                              fields=["rules.0.per", "rules.0.award"])
        assert len(body["errors"]) == 2
        bad = {"nonsense": 1, "tiers": {"levels": [{"code": "a", "name": "A", "threshold": 5}]},
               "rules": [{"id": "m", "kind": "multiplier", "factor": 2, "applies_to": ["nope"]}]}
        body = assert_problem(admin.put("/program", bad), 422, "invalid_input")
        assert {e["field"] for e in body["errors"]} == {"nonsense", "tiers", "rules.0.applies_to"}
        assert counts() == before
        assert ok(reader.get("/program"))["version"] == 2

    def test_put_a_document_that_is_not_an_object(self, admin):
        before = counts()
        assert_problem(admin.put("/program", [1, 2]), 422, "invalid_input", fields=["document"])
        assert_problem(admin.put("/program", "not json"), 400, "bad_request")
        assert counts() == before

    def test_program_problem_messages_are_not_mangled(self, admin):
        body = assert_problem(admin.put("/program", {"rules": [{"id": "Bad Id", "kind": "earn", "award": 1}]}),
                              422, "invalid_input", fields=["rules.0.id"])
        assert "a-z0-9_" in body["errors"][0]["message"]

    def test_simulate_writes_nothing(self, reader, member, business):
        seed_points(business, member, 1_000)
        before = counts()
        body = ok(reader.post("/program/simulate", {"member": {"phone": "0912 123 4567"}, "branch": "t1",
                                                    "total": 2_000_000, "redeem": {"points": 350}},
                              idem="sim-1"))
        assert body["effects"][0].pop("reason")
        assert body == {
            "id": None, "purchase_id": None, "receipt": None, "branch": None, "status": None, "dry_run": True,
            "other_amount": 0, "refused_codes": [], "rewards": [],
            "program_version": 2, "member_id": member.pk, "total": 2_000_000, "discount": 0,
            "points_redeemed": 300, "points_value": 30_000, "wallet_redeemed": 0, "gift_credit_redeemed": 0, "gift_card_redeemed": 0,
            "earning_base": 1_970_000, "payable": 1_970_000, "tier": "bronze",
            "balance": available(points=1_000 - 300 + 190),  # what the purchase would leave
            "effects": [{"kind": "earn", "rule_id": "base", "currency": "points", "amount": 190,
                         "reward_code": None, "reward_name": None}]}
        again = reader.post("/program/simulate", {"member": {"phone": "0912 123 4567"}, "branch": "t1",
                                                  "total": 2_000_000, "redeem": {"points": 350}}, idem="sim-1")
        assert ok(again)["points_redeemed"] == 300
        assert counts() == before

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}, "branch": "t1", "total": "100"}, ["total"]),
        ({"member": {"member_id": 1}, "branch": "t1", "total": 1.5}, ["total"]),
        ({"member": {"member_id": 1}, "branch": "t1"}, ["total"]),
        ({"member": {}, "branch": "t1", "total": 1}, ["member"]),
        ({"member": {"member_id": 1}, "branch": "t1", "total": 1, "dryrun": True}, ["dryrun"]),
    ])
    def test_simulate_bad_input(self, reader, member, body, fields):
        before = counts()
        assert_problem(reader.post("/program/simulate", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_simulate_unknown_branch(self, reader, member):
        body = assert_problem(reader.post("/program/simulate", {"member": {"member_id": member.pk},
                                                                "branch": "nowhere", "total": 1}),
                              422, "invalid_input", fields=["branch"])
        assert body["errors"][0]["code"] == "unknown_branch"


# --- members -----------------------------------------------------------------------------------------------


class TestSignUp:
    def test_sign_up(self, writer, business):
        before = counts()
        response = writer.post("/members", {
            "mobile": "۰۹۱۲ ۱۱۱ ۲۲۳۳", "first_name": " مریم ", "last_name": "احمدی", "email": "m@example.com",
            "birth_date": "1370/06/15", "anniversary": "2015-05-01", "gender": "female", "job": "معلم",
            "education": "ارشد", "interests": ["قهوه", "کتاب"], "source": "instagram"})
        body = ok(response, 201)
        member = Member.objects.get(business=business, mobile="+989121112233")
        assert body["id"] == member.pk and len(body["code"]) == 7 and body["code"] == member.code
        assert same_moment(body["joined_at"], member.joined_at)
        assert without_joined(body) == {
            "id": member.pk, "code": member.code, "mobile": "+989121112233", "first_name": "مریم",
            "last_name": "احمدی", "email": "m@example.com", "birth_date": "1991-09-06",
            "anniversary": "2015-05-01", "gender": "female", "job": "معلم", "education": "ارشد",
            "interests": ["قهوه", "کتاب"], "join_source": "instagram", "status": "active", "tier": "bronze"}
        after = counts()
        assert after["members.Member"] == before["members.Member"] + 1
        assert after["access.AuditEvent"] == before["access.AuditEvent"] + 1

    @pytest.mark.parametrize("mobile", ["09121112233", "+989121112233", "989121112233", "9121112233",
                                        "۰۹۱۲۱۱۱۲۲۳۳", "٠٩١٢١١١٢٢٣٣", "0912-111-2233"])
    def test_every_spelling_of_a_mobile(self, writer, mobile):
        assert ok(writer.post("/members", {"mobile": mobile}), 201)["mobile"] == "+989121112233"

    def test_a_referral(self, writer, member):
        body = ok(writer.post("/members", {"mobile": "09121112233", "referral_code": member.code.lower()}), 201)
        assert Member.objects.get(pk=body["id"]).referred_by_id == member.pk

    @pytest.mark.parametrize("body, fields, codes", [
        ({}, ["mobile"], ["required"]),
        ({"first_name": "x"}, ["mobile"], ["required"]),
        ({"mobile": None}, ["mobile"], None),
        ({"mobile": 9121112233}, ["mobile"], ["must_be_text"]),
        ({"mobile": "12345"}, ["mobile"], ["not_a_phone"]),
        ({"mobile": "02122334455"}, ["mobile"], ["not_a_mobile"]),
        ({"mobile": "12", "email": "nope", "gender": "x"}, ["mobile", "email", "gender"], None),
        ({"mobile": "09121112233", "birth_date": "1370/13/01"}, ["birth_date"], None),
        ({"mobile": "09121112233", "birth_date": "2999-01-01"}, ["birth_date"], ["date_in_future"]),
        ({"mobile": "09121112233", "interests": "coffee"}, ["interests"], ["must_be_list"]),
        ({"mobile": "09121112233", "first_name": "x" * 101}, ["first_name"], ["too_long"]),
        ({"mobile": "09121112233", "nickname": "x"}, ["nickname"], ["unknown_field"]),
        ({"mobile": "09121112233", "referral_code": "ZZZZZZZ"}, ["referral_code"], ["unknown_referral_code"]),
    ])
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(self, writer, member, body, fields, codes):
        before = counts()
        problem = assert_problem(writer.post("/members", body), 422, "invalid_input", fields=fields)
        if codes is not None:
            assert {e["field"]: e["code"] for e in problem["errors"]} == dict(zip(fields, codes, strict=True))
        assert counts() == before

    def test_self_referral(self, writer, member):
        before = counts()
        body = assert_problem(writer.post("/members", {"mobile": "09121234567", "referral_code": member.code}),
                              422, fields=["referral_code"])
        assert body["errors"][0]["code"] == "self_referral"
        assert counts() == before

    def test_a_mobile_already_a_member_is_409(self, writer, member):
        before = counts()
        body = assert_problem(writer.post("/members", {"mobile": "+98 912 123 4567"}), 409, "mobile_taken")
        assert body["mobile"] == "+989121234567"
        assert counts() == before

    def test_not_json_is_400(self, writer):
        before = counts()
        assert_problem(writer.post("/members", "{not json"), 400, "bad_request")
        assert counts() == before

    def test_replay(self, writer):
        first = writer.post("/members", {"mobile": "09121112233", "first_name": "A"}, idem="m-1")
        ok(first, 201)
        before = stored()
        again = writer.post("/members", {"mobile": "09121112233", "first_name": "A"}, idem="m-1")
        assert_replay(first, again)
        conflict = writer.post("/members", {"mobile": "09121112233", "first_name": "B"}, idem="m-1")
        body = assert_problem(conflict, 409, "idempotency_key_reused")
        assert body["key"] == "m-1"
        assert stored() == before

    def test_a_failed_request_does_not_burn_its_idempotency_key(self, writer):
        assert_problem(writer.post("/members", {"mobile": "12"}, idem="m-2"), 422)
        ok(writer.post("/members", {"mobile": "09121112233"}, idem="m-2"), 201)

    @pytest.mark.parametrize("key", ["", "k" * 201])
    def test_a_bad_idempotency_key(self, writer, key):
        before = counts()
        assert_problem(writer.post("/members", {"mobile": "09121112233"}, idem=key), 422, "invalid_input",
                       fields=["Idempotency-Key"])
        assert counts() == before


class TestFindMembers:
    def test_by_phone_card_code_and_text(self, reader, member, card, make_member):
        other = make_member(first_name="رضا", last_name="کریمی")
        expected = ok(reader.get(f"/members/{member.pk}"))
        for query in ({"phone": "09121234567"}, {"phone": "۰۹۱۲۱۲۳۴۵۶۷"}, {"phone": "+989121234567"},
                      {"card": card.number}, {"code": member.code}, {"code": member.code.lower()},
                      {"q": "علی"}, {"q": "رضایی"}, {"q": "1234567"}):
            assert ok(reader.get("/members", query)) == {"items": [expected], "next_cursor": None}, query
        assert [m["id"] for m in ok(reader.get("/members", {"q": "کریمی"}))["items"]] == [other.pk]
        assert [m["id"] for m in ok(reader.get("/members", {"q": "رضا"}))["items"]] == [other.pk, member.pk]
        for query in ({"phone": "09129999999"}, {"phone": "garbage"}, {"card": "6000000000000000"},
                      {"code": "NOPE123"}, {"q": "nobody"}):
            assert ok(reader.get("/members", query)) == {"items": [], "next_cursor": None}, query

    def test_pages(self, reader, member, make_member):
        ids = [member.pk] + [make_member().pk for _ in range(4)]
        seen, cursor, pages = [], None, 0
        while True:
            body = ok(reader.get("/members", {"limit": 2, **({"cursor": cursor} if cursor else {})}))
            pages += 1
            assert len(body["items"]) <= 2
            seen += [m["id"] for m in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == sorted(ids, reverse=True)  # newest first, each once

    @pytest.mark.parametrize("query, field", [({"cursor": "!!!"}, "cursor"), ({"cursor": "bm90IGEgbnVtYmVy"},
                                                                                "cursor"),
                                              ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
                                              ({"limit": "ten"}, "limit")])
    def test_bad_paging(self, reader, member, query, field):
        assert_problem(reader.get("/members", query), 422, "invalid_input", fields=[field])


class TestMember:
    def test_get(self, reader, member):
        body = ok(reader.get(f"/members/{member.pk}"))
        assert without_joined(body) == member_json(member)
        assert body["mobile"] == "+989121234567" and body["first_name"] == "علی" and body["tier"] == "bronze"

    def test_unknown_and_bad_ids(self, reader):
        assert_problem(reader.get("/members/999999"), 404, "member_not_found")
        assert_problem(reader.get("/members/99999999999999999999999"), 404, "member_not_found")
        assert_problem(reader.get("/members/abc"), 422, "invalid_input", fields=["member_id"])

    def test_patch(self, writer, member, business):
        body = ok(writer.patch(f"/members/{member.pk}", {"first_name": "رضا", "email": "r@example.com",
                                                         "birth_date": "1365/01/01", "interests": ["چای"],
                                                         "mobile": "09351112233", "status": "blocked"}))
        assert without_joined(body) == member_json(member)
        assert (body["first_name"], body["last_name"], body["email"], body["birth_date"], body["interests"],
                body["mobile"], body["status"]) == ("رضا", "رضایی", "r@example.com", "1986-03-21", ["چای"],
                                                    "+989351112233", "blocked")

    @pytest.mark.parametrize("body, fields", [
        ({"gender": "x", "email": "nope"}, ["email", "gender"]),
        ({"mobile": None}, ["mobile"]),
        ({"status": None, "interests": None}, ["status", "interests"]),
        ({"mobile": "12"}, ["mobile"]),
        ({"status": "deleted"}, ["status"]),
        ({"code": "AAAAAAA"}, ["code"]),
        ({"first_name": ["x"]}, ["first_name"]),
        ({"birth_date": "tomorrow"}, ["birth_date"]),
    ])
    def test_patch_bad_input_changes_nothing(self, writer, member, body, fields):
        before, member_before = counts(), member_json(member)
        assert_problem(writer.patch(f"/members/{member.pk}", body), 422, "invalid_input", fields=fields)
        assert counts() == before
        assert member_json(member) == member_before

    def test_patch_to_a_taken_mobile_is_409(self, writer, member, make_member):
        other = make_member()
        before = member_json(member)
        assert_problem(writer.patch(f"/members/{member.pk}", {"mobile": other.mobile}), 409, "mobile_taken")
        assert member_json(member) == before


class TestBalance:
    def test_every_balance_the_tier_and_what_expires(self, program, writer, admin, reader, member):
        program({"settings": {"currencies": {"points": {"expiry_days": 20},
                                             "wallet": {"expiry_days": 180, "pending_days": 14}}},
                 "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                           {"id": "cb", "kind": "cashback", "percent": 5}],
                 "tiers": TIERS, "loyalty_table": LOYALTY_TABLE})
        when = (timezone.now() - dt.timedelta(days=1)).replace(microsecond=0)
        ok(writer.post("/purchases", purchase_body(member, "B-1", 6_000_000, occurred_at=when.isoformat())), 201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "coins", "amount": 7, "reason": "c"}), 201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "gift_credit", "amount": 50_000,
                                       "reason": "g"}), 201)
        body = ok(reader.get(f"/members/{member.pk}/balance"))
        expiring = body.pop("expiring_soon")
        assert body == {
            "member_id": member.pk,
            "points": {"available": 600, "pending": 0},
            "coins": {"available": 7, "pending": 0},
            "wallet": {"available": 0, "pending": 300_000},
            "gift_credit": {"available": 50_000, "pending": 0},
            "gift_credit_restrictions": [],
            "tier": {"code": "silver", "name": "نقره‌ای", "metric": 6_000_000, "next_code": "gold",
                     "next_name": "طلایی", "remaining_to_next": 14_000_000},
        }
        assert [(e["currency"], e["amount"], at(e["expires_at"])) for e in expiring] == [
            ("points", 600, when + dt.timedelta(days=20))]
        assert ok(reader.get(f"/members/{member.pk}/balance", {"expiring_days": 10}))["expiring_soon"] == []

    def test_a_new_member(self, reader, member):
        assert ok(reader.get(f"/members/{member.pk}/balance")) == {
            "member_id": member.pk, **balance(), "gift_credit_restrictions": [],
            "tier": {"code": "bronze", "name": "برنزی", "metric": 0, "next_code": "silver",
                     "next_name": "نقره‌ای", "remaining_to_next": 5_000_000},
            "expiring_soon": []}

    def test_bad_query(self, reader, member):
        for days in (0, 3651, "x"):
            assert_problem(reader.get(f"/members/{member.pk}/balance", {"expiring_days": days}), 422,
                           "invalid_input", fields=["expiring_days"])


class TestLedger:
    def test_newest_first_with_reasons_and_signed_amounts(self, business, member, writer, admin, reader):
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 500,
                                       "reason": "جبران تأخیر"}), 201)
        purchase = ok(writer.post("/purchases", purchase_body(member, "L-1", 300_000, redeem={"points": 100})),
                      201)
        ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": -50,
                                       "reason": "اصلاح"}), 201)
        items = ok(reader.get(f"/members/{member.pk}/ledger"))["items"]
        assert [(e["kind"], e["currency"], e["amount"], e["account"], e["purchase_id"], e["rule_id"])
                for e in items] == [
            ("adjust", "points", -50, "available", None, ""),
            ("earn", "points", 20, "available", purchase["purchase_id"], "base"),
            ("spend", "points", -100, "available", purchase["purchase_id"], ""),
            ("adjust", "points", 500, "available", None, ""),
        ]
        assert items[0]["reason"] == "اصلاح" and items[3]["reason"] == "جبران تأخیر"
        assert "L-1" in items[2]["reason"] and items[1]["reason"]
        assert [e["actor_label"] for e in items] == ["test admin", "test write", "test write", "test admin"]
        assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)
        assert sum(e["amount"] for e in items) == 370
        assert ok(reader.get(f"/members/{member.pk}/balance"))["points"] == {"available": 370, "pending": 0}
        assert ok(reader.get(f"/members/{member.pk}/ledger", {"currency": "wallet"})) == {"items": [],
                                                                                          "next_cursor": None}

    def test_returns_show_as_negative(self, member, purchase, writer, reader):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 500_000}), 201)
        items = ok(reader.get(f"/members/{member.pk}/ledger"))["items"]
        assert [(e["kind"], e["amount"]) for e in items] == [("reverse", -50), ("earn", 100)]

    def test_pages(self, business, member, reader):
        for amount in range(1, 6):
            adjust(business, member.pk, "points", amount, reason=f"r{amount}")
        seen, cursor = [], None
        while True:
            body = ok(reader.get(f"/members/{member.pk}/ledger", {"limit": 2, **({"cursor": cursor} if cursor
                                                                                  else {})}))
            seen += [e["amount"] for e in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == [5, 4, 3, 2, 1]
        assert_problem(reader.get(f"/members/{member.pk}/ledger", {"cursor": "garbage!"}), 422,
                       "invalid_input", fields=["cursor"])


class TestCards:
    def test_issue(self, writer, member, business):
        body = ok(writer.post(f"/members/{member.pk}/cards", {}), 201)
        assert len(body["number"]) == 16 and luhn_valid(body["number"])
        assert (body["kind"], body["status"]) == ("qr", "active")
        card = Card.objects.get(business=business, number=body["number"])
        assert card.member_id == member.pk and same_moment(body["issued_at"], card.issued_at)

    def test_issue_a_preprinted_card(self, writer, reader, member):
        number = "6" + "1" * 14
        number += check_digit(number)
        body = ok(writer.post(f"/members/{member.pk}/cards", {"kind": "magnetic", "number": number}), 201)
        assert (body["number"], body["kind"], body["status"]) == (number, "magnetic", "active")
        assert [m["id"] for m in ok(reader.get("/members", {"card": number}))["items"]] == [member.pk]
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"number": number}), 409, "card_number_taken")

    @pytest.mark.parametrize("body, fields", [
        ({"kind": "nfc"}, ["kind"]),
        ({"number": "6111111111111112"}, ["number"]),
        ({"number": "1" * 20}, ["number"]),
        ({"colour": "red"}, ["colour"]),
        ({"kind": 1}, ["kind"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        before = counts()
        assert_problem(writer.post(f"/members/{member.pk}/cards", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replace_keeps_balances_and_blocks_the_old_number(self, business, writer, reader, member, card):
        seed_points(business, member, 700)
        ok(writer.post("/purchases", purchase_body({"card": card.number}, "C-1", 500_000)), 201)
        balance_before = ok(reader.get(f"/members/{member.pk}/balance"))
        body = ok(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 201)
        assert body["number"] != card.number and luhn_valid(body["number"])
        assert body["status"] == "active"
        card.refresh_from_db()
        assert card.status == "replaced" and card.replaced_by.number == body["number"]
        assert ok(reader.get(f"/members/{member.pk}/balance")) == balance_before
        assert ok(reader.get("/members", {"card": card.number}))["items"] == []
        assert [m["id"] for m in ok(reader.get("/members", {"card": body["number"]}))["items"]] == [member.pk]
        before = counts()
        assert_problem(writer.post("/purchases", purchase_body({"card": card.number}, "C-2", 100_000)), 404,
                       "member_not_found")
        assert counts() == before
        ok(writer.post("/purchases", purchase_body({"card": body["number"]}, "C-2", 100_000)), 201)
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 409,
                       "card_already_replaced")

    def test_a_replacement_keeps_the_old_cards_kind(self, writer, member, card):
        body = ok(writer.post(f"/members/{member.pk}/cards", {"replace": card.number}), 201)
        assert body["kind"] == "magnetic"

    def test_replace_an_unknown_card_or_another_members_card(self, business, writer, member, make_member):
        someone = make_member()
        theirs = issue_card(business, someone.pk)
        before = counts()
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": "6000000000000000"}), 404,
                       "card_not_found")
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"replace": theirs.number}), 404,
                       "card_not_found")
        assert counts() == before

    def test_replay(self, writer, member):
        first = writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="card-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/members/{member.pk}/cards", {"kind": "barcode"}, idem="card-1"))
        assert_problem(writer.post(f"/members/{member.pk}/cards", {"kind": "qr"}, idem="card-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before


# --- purchases ---------------------------------------------------------------------------------------------


def expected_purchase(member, purchase_id, receipt, total, points, *, branch="t1", balance_points=None,
                      **overrides):
    result = {"id": purchase_id, "purchase_id": purchase_id, "receipt": receipt, "branch": branch,
              "status": "completed", "other_amount": 0, "refused_codes": [], "rewards": [],
              "dry_run": False, "program_version": 2, "member_id": member.pk, "total": total, "discount": 0,
              "points_redeemed": 0, "points_value": 0, "wallet_redeemed": 0, "gift_credit_redeemed": 0, "gift_card_redeemed": 0,
              "earning_base": total,
              "payable": total, "tier": "bronze",
              "effects": [{"kind": "earn", "rule_id": "base", "currency": "points", "amount": points,
                           "reward_code": None, "reward_name": None}] if points else [],
              "balance": available(points=points if balance_points is None else balance_points)}
    result.update(overrides)
    return result


def strip_reasons(body: dict) -> dict:
    for effect in body["effects"]:
        assert effect.pop("reason")
    return body


class TestPostPurchase:
    def test_by_member_id_with_items(self, writer, reader, member, business):
        before = counts()
        response = writer.post("/purchases", purchase_body(member, "R-1", 250_000, channel="pos", items=[
            {"sku": "ESP", "name": "اسپرسو", "category": "coffee", "quantity": 2, "unit_price": 100_000},
            {"sku": "CAKE", "unit_price": 50_000}]))
        body = strip_reasons(ok(response, 201))
        purchase = Purchase.objects.get(business=business, receipt="R-1")
        assert body == expected_purchase(member, purchase.pk, "R-1", 250_000, 20)
        assert not response.has_header("Idempotent-Replayed")
        after = counts()
        assert after["purchases.Purchase"] == before["purchases.Purchase"] + 1
        assert after["purchases.PurchaseLine"] == before["purchases.PurchaseLine"] + 2
        detail = ok(reader.get(f"/purchases/{purchase.pk}"))
        assert [(line["sku"], line["name"], line["category"], line["quantity"], line["unit_price"], line["amount"],
                 line["returned_quantity"]) for line in detail["lines"]] == [
            ("ESP", "اسپرسو", "coffee", 2, 100_000, 200_000, 0), ("CAKE", "", "", 1, 50_000, 50_000, 0)]
        assert detail["channel"] == "pos"

    @pytest.mark.parametrize("ref", ["phone", "phone_fa", "card", "code"])
    def test_by_phone_card_or_code(self, writer, member, card, ref):
        value = {"phone": {"phone": "09121234567"}, "phone_fa": {"phone": "۰۹۱۲۱۲۳۴۵۶۷"},
                 "card": {"card": card.number}, "code": {"code": member.code.lower()}}[ref]
        body = ok(writer.post("/purchases", purchase_body(value, "R-2", 100_000)), 201)
        assert body["member_id"] == member.pk and body["balance"]["points"]["available"] == 10

    def test_redeem_points(self, writer, member, business):
        seed_points(business, member, 1_000)
        body = strip_reasons(ok(writer.post("/purchases", purchase_body(member, "R-3", 300_000,
                                                                        redeem={"points": 250})), 201))
        assert body == expected_purchase(member, body["purchase_id"], "R-3", 300_000, 20, balance_points=820,
                                         points_redeemed=200, points_value=20_000, earning_base=280_000,
                                         payable=280_000)

    def test_redeem_problems(self, writer, member, business):
        seed_points(business, member, 150)
        before = counts()
        body = assert_problem(writer.post("/purchases", purchase_body(member, "R-4", 1_000_000,
                                                                      redeem={"points": 200})), 409,
                              "insufficient_balance")
        assert (body["needed"], body["available"]) == (200, 150)
        for points, code in ((50, "less_than_one_step"), (100, "more_than_amount_due")):
            problem = assert_problem(writer.post("/purchases", purchase_body(member, "R-4", 5_000,
                                                                             redeem={"points": points})),
                                     422, "invalid_input", fields=["redeem.points"])
            assert problem["errors"][0]["code"] == code
        assert counts() == before

    def test_dry_run_writes_nothing(self, writer, member):
        before = counts()
        response = writer.post("/purchases", purchase_body(member, "R-5", 1_000_000, dry_run=True), idem="dry")
        body = strip_reasons(ok(response, 200))
        assert body == expected_purchase(member, None, None, 1_000_000, 100, branch=None, status=None,
                                         dry_run=True, balance_points=100)  # the balance it would leave
        assert counts() == before

    def test_a_branch_bound_key(self, cashier_t1, member):
        before = counts()
        assert_problem(cashier_t1.post("/purchases", purchase_body(member, "R-6", 100_000, branch="v2")), 403,
                       "branch_not_allowed")
        assert counts() == before
        ok(cashier_t1.post("/purchases", purchase_body(member, "R-6", 100_000, branch="t1")), 201)

    def test_the_same_receipt_again_is_a_replay(self, writer, member):
        first = writer.post("/purchases", purchase_body(member, "R-7", 400_000))
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/purchases", purchase_body(member, "R-7", 400_000)))
        assert_replay(first, writer.post("/purchases", purchase_body(member, " R-7 ", 400_000)))
        body = assert_problem(writer.post("/purchases", purchase_body(member, "R-7", 500_000)), 409,
                              "receipt_exists")
        assert body["receipt"] == "R-7"
        assert stored() == before
        # the same receipt at another branch is another purchase
        ok(writer.post("/purchases", purchase_body(member, "R-7", 400_000, branch="v2")), 201)

    def test_the_same_idempotency_key(self, writer, member):
        first = writer.post("/purchases", purchase_body(member, "R-8", 400_000), idem="p-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/purchases", purchase_body(member, "R-8", 400_000), idem="p-1"))
        assert_problem(writer.post("/purchases", purchase_body(member, "R-9", 400_000), idem="p-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    @pytest.mark.parametrize("change, fields", [
        ({"total": "250000"}, ["total"]),
        ({"total": 250000.0}, ["total"]),
        ({"total": 2.5}, ["total"]),
        ({"total": -1}, ["total"]),
        ({"total": 10**16}, ["total"]),
        ({"total": None}, ["total"]),
        ({"items": [{"sku": "A", "unit_price": "100"}]}, ["items.0.unit_price"]),
        ({"items": [{"sku": "A", "unit_price": 100.0}]}, ["items.0.unit_price"]),
        ({"items": [{"sku": "A", "unit_price": 100, "quantity": 1.5}]}, ["items.0.quantity"]),
        ({"items": [{"sku": "A", "unit_price": 100, "quantity": 0}]}, ["items.0.quantity"]),
        ({"items": [{"sku": "A"}]}, ["items.0.unit_price"]),
        ({"redeem": {"points": 100.0}}, ["redeem.points"]),
        ({"redeem": {"points": "100"}}, ["redeem.points"]),
        ({"units": {"km": 1.5}}, ["units.km"]),
        ({"foo": 1}, ["foo"]),
        ({"member": {"member_id": 1, "foo": 1}}, ["member.foo"]),
        ({"items": [{"sku": "A", "unit_price": 1, "color": "red"}]}, ["items.0.color"]),
        ({"redeem": {"coins": 1}}, ["redeem.coins"]),
        ({"occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"occurred_at": "yesterday"}, ["occurred_at"]),
        ({"occurred_at": "2999-01-01T10:00:00+03:30"}, ["occurred_at"]),
        ({"branch": "nowhere"}, ["branch"]),
        ({"receipt": ""}, ["receipt"]),
        ({"receipt": "   "}, ["receipt"]),
        ({"receipt": "r" * 65}, ["receipt"]),
        ({"member": {"phone": "09121234567", "code": "X"}}, ["member"]),
        ({"member": {}}, ["member"]),
        ({"member": {"member_id": "1"}}, ["member.member_id"]),
        ({"codes": ["WELCOME"]}, ["codes.0"]),
        ({"dry_run": "maybe"}, ["dry_run"]),
    ])
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(self, writer, member, change, fields):
        body = purchase_body(member, "BAD-1", 250_000)
        body.update(change)
        if "member" in change and change["member"].get("member_id") == 1:
            body["member"] = {**change["member"], "member_id": member.pk}
        before = counts()
        problem = assert_problem(writer.post("/purchases", body), 422, "invalid_input", fields=fields)
        assert problem["errors"][0]["message"]
        assert counts() == before

    def test_error_codes_for_amounts(self, writer, member):
        problem = assert_problem(writer.post("/purchases", purchase_body(member, total="1")), 422)
        assert problem["errors"][0]["code"] == "must_be_integer"
        problem = assert_problem(writer.post("/purchases", purchase_body(member, occurred_at="2025-01-01T10:00")),
                                 422)
        assert problem["errors"][0]["code"] == "needs_timezone_offset"
        problem = assert_problem(writer.post("/purchases", purchase_body(member, foo=1)), 422)
        assert problem["errors"][0]["code"] == "unknown_field"

    def test_a_blocked_member(self, writer, member):
        ok(writer.patch(f"/members/{member.pk}", {"status": "blocked"}))
        before = counts()
        assert_problem(writer.post("/purchases", purchase_body(member, "R-10")), 409, "member_blocked")
        assert counts() == before

    def test_an_unknown_member(self, writer, member):
        before = counts()
        for ref in ({"member_id": 999_999}, {"phone": "09129999999"}, {"card": "6000000000000000"},
                    {"code": "NOPE123"}):
            assert_problem(writer.post("/purchases", purchase_body(ref)), 404, "member_not_found")
        assert counts() == before


class TestListPurchases:
    def test_list_filters_and_detail(self, business, writer, reader, member, make_member):
        other = make_member()
        a = ok(writer.post("/purchases", purchase_body(member, "A-1", 100_000)), 201)["purchase_id"]
        b = ok(writer.post("/purchases", purchase_body(other, "B-1", 200_000, branch="v2")), 201)["purchase_id"]
        c = ok(writer.post("/purchases", purchase_body(member, "C-1", 300_000, branch="v2")), 201)["purchase_id"]
        assert [p["id"] for p in ok(reader.get("/purchases"))["items"]] == [c, b, a]
        assert [p["id"] for p in ok(reader.get("/purchases", {"member_id": member.pk}))["items"]] == [c, a]
        assert [p["id"] for p in ok(reader.get("/purchases", {"branch": "v2"}))["items"]] == [c, b]
        assert [p["id"] for p in ok(reader.get("/purchases", {"receipt": "B-1"}))["items"]] == [b]
        detail = ok(reader.get(f"/purchases/{a}"))
        effects = detail.pop("effects")
        occurred = detail.pop("occurred_at")
        assert detail == {"id": a, "member_id": member.pk, "branch": "t1", "receipt": "A-1", "channel": "",
                          "total": 100_000, "discount": 0, "payable": 100_000, "returned_amount": 0,
                          "status": "completed", "program_version": 2, "items": [], "lines": [],
                          "other_amount": 0, "points_redeemed": 0, "points_value": 0, "wallet_redeemed": 0,
                          "gift_credit_redeemed": 0, "gift_card_redeemed": 0, "earning_base": 100_000}
        assert same_moment(occurred, Purchase.objects.get(pk=a).occurred_at)
        assert [(e["kind"], e["amount"]) for e in effects] == [("earn", 10)]
        assert ok(reader.get("/purchases"))["items"][2] == {**detail, "effects": effects, "occurred_at": occurred}

    def test_a_branch_bound_key_lists_its_branch_only(self, cashier_t1, purchase, v2_purchase):
        assert [p["id"] for p in ok(cashier_t1.get("/purchases"))["items"]] == [purchase.pk]

    def test_unknown_purchase(self, reader):
        assert_problem(reader.get("/purchases/999999"), 404, "purchase_not_found")
        assert_problem(reader.get("/purchases/99999999999999999999999"), 404, "purchase_not_found")
        assert_problem(reader.get("/purchases/x"), 422, "invalid_input", fields=["purchase_id"])

    def test_pages(self, business, member, reader):
        ids = [record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"PG-{i}",
                               total=1_000)["purchase_id"] for i in range(5)]
        seen, cursor, pages = [], None, 0
        while True:
            body = ok(reader.get("/purchases", {"limit": 2, **({"cursor": cursor} if cursor else {})}))
            pages += 1
            seen += [p["id"] for p in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert (pages, seen) == (3, sorted(ids, reverse=True))
        assert_problem(reader.get("/purchases", {"cursor": "%%%"}), 422, "invalid_input", fields=["cursor"])


class TestReturns:
    def test_by_items_reverses_exactly(self, writer, reader, member, purchase):
        lines = ok(reader.get(f"/purchases/{purchase.pk}"))["lines"]
        first = ok(writer.post(f"/purchases/{purchase.pk}/returns", {"items": [{"sku": "A"}], "reason": "خراب"}),
                   201)
        assert first == {"id": first["return_id"], "return_id": first["return_id"], "purchase_id": purchase.pk,
                         "status": "partially_returned", "returned_amount": 300_000, "returned_total": 300_000,
                         "previously_returned": 0,
                         "reversed": [{"kind": "reverse", "currency": "points", "amount": 30, "unrecovered": 0, "rule_id": "base"}],
                         "member_id": member.pk, "tier": "bronze", "balance": available(points=70)}
        rest = ok(writer.post(f"/purchases/{purchase.pk}/returns", {
            "items": [{"line_id": lines[1]["id"]}, {"sku": "A", "quantity": 1}]}), 201)
        assert {k: v for k, v in rest.items() if k not in ("id", "return_id")} == {
            "purchase_id": purchase.pk, "status": "returned", "returned_amount": 700_000,
            "returned_total": 1_000_000, "previously_returned": 300_000,
            "reversed": [{"kind": "reverse", "currency": "points", "amount": 70, "unrecovered": 0, "rule_id": "base"}],
            "member_id": member.pk, "tier": "bronze", "balance": available(points=0)}
        detail = ok(reader.get(f"/purchases/{purchase.pk}"))
        assert {line["sku"]: line["returned_quantity"] for line in detail["lines"]} == {"A": 2, "B": 1}
        assert (detail["status"], detail["returned_amount"]) == ("returned", 1_000_000)

    def test_lines_keep_their_order_after_a_return(self, business, member, writer, reader):
        lines = [{"sku": f"L{i:03d}", "quantity": 1, "unit_price": 1_000} for i in range(150)]  # > one heap page
        bought = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="ORD-1", total=150_000,
                                 lines=lines)
        ok(writer.post(f"/purchases/{bought['purchase_id']}/returns", {"items": [{"sku": "L000"}]}), 201)
        expected = [line["sku"] for line in lines]
        assert [line["sku"] for line in ok(reader.get(f"/purchases/{bought['purchase_id']}"))["lines"]] == expected
        assert [line["sku"] for line in ok(reader.get("/purchases"))["items"][0]["lines"]] == expected

    @pytest.mark.parametrize("body, fields, code", [
        ({"amount": 0}, ["amount"], None),
        ({"amount": -5}, ["amount"], None),
        ({"amount": "100"}, ["amount"], "must_be_integer"),
        ({"amount": 100.0}, ["amount"], "must_be_integer"),
        ({"amount": 1_000_001}, ["amount"], "more_than_not_yet_returned"),
        ({}, ["amount"], "give_amount_or_lines"),
        ({"items": [{"sku": "A", "quantity": 0}]}, ["items.0.quantity"], None),
        ({"items": [{"sku": "A", "qty": 1}]}, ["items.0.qty"], "unknown_field"),
        ({"amount": 5, "why": "x"}, ["why"], "unknown_field"),
        ({"reason": "x" * 301, "amount": 5}, ["reason"], "too_long"),
    ])
    def test_bad_input(self, writer, purchase, body, fields, code):
        before = counts()
        problem = assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", body), 422, "invalid_input",
                                 fields=fields)
        if code:
            assert problem["errors"][0]["code"] == code
        assert counts() == before

    @pytest.mark.parametrize("items, fields", [
        ([{"sku": "NOPE"}], ["items.0"]),
        ([{"sku": "A", "quantity": 3}], ["items.0.quantity"]),
        ([{"sku": "B"}, {"sku": "B"}], ["items.1.quantity"]),
    ])
    def test_bad_items_name_the_items_field(self, writer, purchase, items, fields):
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"items": items}), 422, "invalid_input",
                       fields=fields)
        assert counts() == before

    def test_bad_items_are_rejected_and_write_nothing(self, writer, purchase):
        for items, code in (([{"sku": "NOPE"}], "no_such_line"), ([{"sku": "A", "quantity": 3}], "more_than_bought"),
                            ([{"sku": "B"}, {"sku": "B"}], "more_than_bought")):
            before = counts()
            problem = assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"items": items}), 422,
                                     "invalid_input")
            assert [e["code"] for e in problem["errors"]] == [code]
            assert counts() == before

    def test_a_branch_bound_key_returns_only_at_its_branch(self, cashier_t1, purchase, v2_purchase):
        before = counts()
        assert_problem(cashier_t1.post(f"/purchases/{v2_purchase.pk}/returns", {"amount": 1_000}), 403,
                       "branch_not_allowed")
        assert_problem(cashier_t1.post(f"/purchases/{v2_purchase.pk}/cancel", {}), 403, "branch_not_allowed")
        assert counts() == before
        ok(cashier_t1.post(f"/purchases/{purchase.pk}/returns", {"amount": 1_000}), 201)

    def test_replay(self, writer, purchase):
        first = writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 100_000}, idem="ret-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 100_000}, idem="ret-1"))
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 200_000}, idem="ret-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    def test_returning_a_fully_returned_purchase_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 1_000_000}), 201)
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 1}), 409,
                       "purchase_already_reversed")
        assert counts() == before


class TestCancel:
    def test_cancel_reverses_everything_left(self, writer, reader, member, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/returns", {"amount": 250_000}), 201)
        body = ok(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "اشتباه صندوق"}), 201)
        assert {k: v for k, v in body.items() if k not in ("id", "return_id")} == {
            "purchase_id": purchase.pk, "status": "cancelled", "returned_amount": 750_000,
            "returned_total": 1_000_000, "previously_returned": 250_000,
            "reversed": [{"kind": "reverse", "currency": "points", "amount": 75, "unrecovered": 0, "rule_id": "base"}],
            "member_id": member.pk, "tier": "bronze", "balance": available(points=0)}
        assert ok(reader.get(f"/purchases/{purchase.pk}"))["status"] == "cancelled"

    def test_replay(self, writer, purchase, v2_purchase):
        first = writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-1"))
        assert_problem(writer.post(f"/purchases/{v2_purchase.pk}/cancel", {"reason": "x"}, idem="c-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before

    def test_the_same_key_with_another_reason_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "x"}, idem="c-2"), 201)
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": "y"}, idem="c-2"), 409,
                       "idempotency_key_reused")

    def test_bad_input(self, writer, purchase):
        before = counts()
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"reason": 5}), 422, fields=["reason"])
        assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {"why": "x"}), 422, fields=["why"])
        assert counts() == before

    def test_a_second_cancel_is_409(self, writer, purchase):
        ok(writer.post(f"/purchases/{purchase.pk}/cancel", {}), 201)
        before = counts()
        body = assert_problem(writer.post(f"/purchases/{purchase.pk}/cancel", {}), 409,
                              "purchase_already_reversed")
        assert body["status"] == 409  # the purchase's status never overwrites the problem's
        assert counts() == before


# --- visits and events ---------------------------------------------------------------------------------------


class TestVisits:
    def test_visit_earns_by_the_program(self, program, writer, member, business):
        program(ACTIVITY_PROGRAM)
        body = ok(writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1", "note": "چکاپ"}),
                  201)
        assert body["effects"][0].pop("reason")
        assert body == {"id": body["visit_id"], "visit_id": body["visit_id"], "event_id": None, "program_version": 3,
                        "effects": [{"kind": "earn", "rule_id": "visit", "currency": "points", "amount": 5,
                                     "reward_code": None, "reward_name": None}],
                        "member_id": member.pk, "tier": "bronze", "balance": available(points=5)}
        from vafa.purchases.models import Visit

        visit = Visit.objects.get(pk=body["visit_id"])
        assert (visit.branch.code, visit.note) == ("t1", "چکاپ")

    def test_a_branch_bound_key(self, cashier_t1, member):
        body = ok(cashier_t1.post("/visits", {"member": {"phone": "09121234567"}}), 201)
        from vafa.purchases.models import Visit

        assert Visit.objects.get(pk=body["visit_id"]).branch.code == "t1"
        before = counts()
        assert_problem(cashier_t1.post("/visits", {"member": {"member_id": member.pk}, "branch": "v2"}), 403,
                       "branch_not_allowed")
        assert counts() == before

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}, "branch": "nowhere"}, ["branch"]),
        ({"member": {"member_id": 1}, "units": {"km": "5"}}, ["units.km"]),
        ({"member": {"member_id": 1}, "units": {"km": -5}}, ["units.km"]),
        ({"member": {"member_id": 1}, "occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"member": {"member_id": 1}, "note": "x" * 201}, ["note"]),
        ({"member": {"member_id": 1}, "extra": 1}, ["extra"]),
        ({}, ["member"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        if "member" in body:
            body = {**body, "member": {"member_id": member.pk}}
        before = counts()
        assert_problem(writer.post("/visits", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replay(self, writer, member):
        first = writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1"}, idem="v-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "t1"},
                                         idem="v-1"))
        assert_problem(writer.post("/visits", {"member": {"member_id": member.pk}, "branch": "v2"}, idem="v-1"),
                       409, "idempotency_key_reused")
        assert stored() == before

    def test_the_same_key_with_another_note_is_409(self, writer, member):
        ok(writer.post("/visits", {"member": {"member_id": member.pk}, "note": "a"}, idem="v-2"), 201)
        assert_problem(writer.post("/visits", {"member": {"member_id": member.pk}, "note": "b"}, idem="v-2"), 409,
                       "idempotency_key_reused")


class TestEvents:
    def test_an_event_rule_rewards_its_event(self, program, writer, member):
        program(ACTIVITY_PROGRAM)
        body = ok(writer.post("/events", {"member": {"code": member.code}, "name": "survey_completed",
                                          "data": {"survey": "nps", "score": 9}}), 201)
        assert body["effects"][0].pop("reason")
        assert body == {"id": body["event_id"], "visit_id": None, "event_id": body["event_id"], "program_version": 3,
                        "effects": [{"kind": "earn", "rule_id": "survey", "currency": "points", "amount": 50,
                                     "reward_code": None, "reward_name": None}],
                        "member_id": member.pk, "tier": "bronze", "balance": available(points=50)}
        from vafa.purchases.models import ActivityEvent

        assert ActivityEvent.objects.get(pk=body["event_id"]).data == {"survey": "nps", "score": 9}
        other = ok(writer.post("/events", {"member": {"member_id": member.pk}, "name": "social_share"}), 201)
        assert other["effects"] == [] and other["balance"] == available(points=50)

    @pytest.mark.parametrize("body, fields", [
        ({"member": {"member_id": 1}}, ["name"]),
        ({"member": {"member_id": 1}, "name": ""}, ["name"]),
        ({"member": {"member_id": 1}, "name": "   "}, ["name"]),
        ({"member": {"member_id": 1}, "name": "x" * 65}, ["name"]),
        ({"member": {"member_id": 1}, "name": "a", "data": [1]}, ["data"]),
        ({"member": {"member_id": 1}, "name": "a", "occurred_at": "2025-01-01T10:00:00"}, ["occurred_at"]),
        ({"member": {"member_id": 1}, "name": "a", "branch": "t1"}, ["branch"]),
    ])
    def test_bad_input(self, writer, member, body, fields):
        body = {**body, "member": {"member_id": member.pk}}
        before = counts()
        assert_problem(writer.post("/events", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_replay(self, program, writer, member):
        program(ACTIVITY_PROGRAM)
        first = writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed"}, idem="e-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, writer.post("/events", {"member": {"member_id": member.pk},
                                                     "name": "survey_completed"}, idem="e-1"))
        assert_problem(writer.post("/events", {"member": {"member_id": member.pk}, "name": "social_share"},
                                   idem="e-1"), 409, "idempotency_key_reused")
        assert stored() == before


# --- adjustments ---------------------------------------------------------------------------------------------


class TestAdjustments:
    def test_credit_then_debit_exactly(self, admin, reader, member):
        credit = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 500,
                                                "reason": " جبران "}), 201)
        assert credit == {"entry_id": credit["entry_id"], "member_id": member.pk, "currency": "points",
                          "amount": 500, "reason": "جبران", "balance": available(points=500)}
        debit = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": -500,
                                               "reason": "اصلاح"}), 201)
        assert (debit["amount"], debit["balance"]) == (-500, available())
        wallet = ok(admin.post("/adjustments", {"member_id": member.pk, "currency": "wallet", "amount": 12_345,
                                                "reason": "w"}), 201)
        assert wallet["balance"] == available(wallet=12_345)
        assert ok(reader.get(f"/members/{member.pk}/balance"))["wallet"] == {"available": 12_345, "pending": 0}

    def test_a_debit_beyond_the_balance_is_409_and_writes_nothing(self, admin, member, business):
        seed_points(business, member, 100)
        before = counts()
        body = assert_problem(admin.post("/adjustments", {"member_id": member.pk, "currency": "points",
                                                          "amount": -101, "reason": "x"}), 409,
                              "insufficient_balance")
        assert (body["needed"], body["available"], body["currency"]) == (101, 100, "points")
        assert counts() == before

    def test_write_key_is_403(self, writer, member):
        before = counts()
        assert_problem(writer.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                                    "reason": "x"}), 403, "scope_too_narrow")
        assert counts() == before

    @pytest.mark.parametrize("change, fields", [
        ({"amount": 0}, ["amount"]),
        ({"amount": "5"}, ["amount"]),
        ({"amount": 5.0}, ["amount"]),
        ({"amount": 10**16}, ["amount"]),
        ({"currency": "euro"}, ["currency"]),
        ({"reason": ""}, ["reason"]),
        ({"reason": "   "}, ["reason"]),
        ({"member_id": 0}, ["member_id"]),
        ({"member_id": "1"}, ["member_id"]),
        ({"note": "x"}, ["note"]),
        ({"currency": "euro", "amount": 0, "reason": "  "}, ["currency", "amount", "reason"]),
    ])
    def test_bad_input(self, admin, member, change, fields):
        body = {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x", **change}
        before = counts()
        assert_problem(admin.post("/adjustments", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_missing_fields(self, admin):
        before = counts()
        assert_problem(admin.post("/adjustments", {}), 422, "invalid_input",
                       fields=["member_id", "currency", "amount", "reason"])
        assert counts() == before

    def test_replay(self, admin, member):
        body = {"member_id": member.pk, "currency": "points", "amount": 40, "reason": "x"}
        first = admin.post("/adjustments", body, idem="a-1")
        ok(first, 201)
        before = stored()
        assert_replay(first, admin.post("/adjustments", body, idem="a-1"))
        assert_problem(admin.post("/adjustments", {**body, "amount": 41}, idem="a-1"), 409,
                       "idempotency_key_reused")
        assert stored() == before


# --- business and branches -----------------------------------------------------------------------------------


class TestBusiness:
    def test_get(self, reader, outsider):
        assert ok(reader.get("/business")) == {"name": "کافه وفا", "slug": "cafe", "currency": "IRT",
                                               "timezone": "Asia/Tehran", "language": "fa", "calendar": "jalali"}
        assert ok(outsider.get("/business")) == {"name": "Other Shop", "slug": "other", "currency": "USD",
                                                 "timezone": "Europe/London", "language": "en",
                                                 "calendar": "gregorian"}

    def test_branches(self, reader):
        assert ok(reader.get("/branches")) == [
            {"code": "t1", "name": "تجریش", "address": "", "active": True},
            {"code": "v2", "name": "ونک", "address": "", "active": True}]

    def test_add_a_branch(self, admin, reader, business):
        body = ok(admin.post("/branches", {"code": "n-3", "name": "نیاوران", "address": "خیابان باهنر"}), 201)
        assert body == {"code": "n-3", "name": "نیاوران", "address": "خیابان باهنر", "active": True}
        assert [b["code"] for b in ok(reader.get("/branches"))] == ["n-3", "t1", "v2"]
        assert Branch.objects.filter(business=business).count() == 3

    @pytest.mark.parametrize("body, fields", [
        ({"name": "N"}, ["code"]),
        ({"code": "", "name": "N"}, ["code"]),
        ({"code": "has space", "name": "N"}, ["code"]),
        ({"code": "x" * 33, "name": "N"}, ["code"]),
        ({"code": "n1"}, ["name"]),
        ({"code": "n1", "name": ""}, ["name"]),
        ({"code": "n1", "name": "N", "phone": "1"}, ["phone"]),
    ])
    def test_add_bad_input(self, admin, body, fields):
        before = counts()
        assert_problem(admin.post("/branches", body), 422, "invalid_input", fields=fields)
        assert counts() == before

    def test_add_needs_admin(self, writer):
        before = counts()
        assert_problem(writer.post("/branches", {"code": "n1", "name": "N"}), 403, "scope_too_narrow")
        assert counts() == before

    def test_a_taken_code_is_409(self, admin):
        before = counts()
        assert_problem(admin.post("/branches", {"code": "t1", "name": "again"}), 409, "branch_code_taken")
        assert counts() == before

    def test_replay(self, admin):
        first = admin.post("/branches", {"code": "n1", "name": "N"}, idem="br-1")
        ok(first, 201)
        assert_replay(first, admin.post("/branches", {"code": "n1", "name": "N"}, idem="br-1"))
        assert_problem(admin.post("/branches", {"code": "n2", "name": "N"}, idem="br-1"), 409,
                       "idempotency_key_reused")


# --- operators: sessions with CSRF, and the role matrix --------------------------------------------------------


def csrf_pair() -> tuple[str, str]:
    """A CSRF cookie secret and a masked token for it, as a page that renders a form would hand out."""
    request = RequestFactory().get("/")
    token = get_token(request)
    return request.META["CSRF_COOKIE"], token


@pytest.fixture
def operator_client(business, settings):
    """operator_client(role, branches=("t1",), csrf=True) → an ApiClient signed in as a new operator, through
    a Client that enforces CSRF, sending the token unless csrf=False."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; force_login anyway
    made = iter(range(1000))

    def make(role, branches=(), csrf=True, active=True):
        operator = create_operator(business, username=f"{role}-{next(made)}", password="a-long-password-123",
                                   role=role, branches=list(Branch.objects.filter(business=business,
                                                                                  code__in=branches)))
        if not active:
            operator.active = False
            operator.save(update_fields=["active"])
        client = Client(enforce_csrf_checks=True)
        client.force_login(operator.user)
        defaults = {}
        if csrf:
            secret, token = csrf_pair()
            client.cookies["csrftoken"] = secret
            defaults["HTTP_X_CSRFTOKEN"] = token
        return ApiClient(None, client=client, **defaults)

    return make


class TestOperatorSessions:
    def test_a_session_reads(self, operator_client, member):
        owner = operator_client("owner", csrf=False)
        assert ok(owner.get("/program"))["version"] == 2
        assert ok(owner.get(f"/members/{member.pk}"))["id"] == member.pk

    def test_a_post_without_csrf_token_is_rejected(self, operator_client):
        owner = operator_client("owner", csrf=False)
        before = counts()
        assert_problem(owner.post("/members", {"mobile": "09121112233"}), 403)
        secret, _ = csrf_pair()
        owner.client.cookies["csrftoken"] = secret
        assert_problem(owner.post("/members", {"mobile": "09121112233"}, headers={"X-CSRFToken": "wrong" * 8}),
                       403)
        assert counts() == before

    def test_a_post_with_the_csrf_token_succeeds_and_is_audited(self, operator_client, business):
        owner = operator_client("owner")
        body = ok(owner.post("/members", {"mobile": "09121112233"}), 201)
        from vafa.access.models import AuditEvent

        event = AuditEvent.objects.get(business=business, object_type="member")
        assert (event.actor_kind, event.actor_label, event.object_id) == ("operator", "owner-0", str(body["id"]))

    def test_an_inactive_operator_is_401(self, operator_client):
        assert_problem(operator_client("owner", active=False).get("/program"), 401, "unauthorized")

    def test_owner(self, operator_client, member):
        owner = operator_client("owner")
        assert ok(owner.put("/program", {"rules": [], "loyalty_table": LOYALTY_TABLE}))["version"] == 3
        ok(owner.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x"}),
           201)
        ok(owner.post("/branches", {"code": "n1", "name": "N"}), 201)
        ok(owner.post("/purchases", purchase_body(member, "O-1", 100_000, branch="v2")), 201)

    def test_manager(self, operator_client, member):
        manager = operator_client("manager")
        before = counts()
        assert_problem(manager.put("/program", {"rules": []}), 403, "owner_only")
        assert counts() == before
        ok(manager.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                         "reason": "x"}), 201)
        ok(manager.post("/branches", {"code": "n1", "name": "N"}), 201)
        ok(manager.post("/purchases", purchase_body(member, "M-1", 100_000, branch="v2")), 201)

    def test_cashier_bound_to_t1(self, operator_client, member, v2_purchase):
        cashier = operator_client("cashier", branches=("t1",))
        t1 = ok(cashier.post("/purchases", purchase_body(member, "K-1", 100_000, branch="t1")), 201)
        before = counts()
        assert_problem(cashier.post("/purchases", purchase_body(member, "K-2", 100_000, branch="v2")), 403,
                       "branch_not_allowed")
        assert_problem(cashier.post("/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5,
                                                     "reason": "x"}), 403, "scope_too_narrow")
        assert_problem(cashier.put("/program", {"rules": []}), 403, "scope_too_narrow")
        assert_problem(cashier.post(f"/purchases/{v2_purchase.pk}/cancel", {}), 403, "branch_not_allowed")
        assert counts() == before
        assert [p["id"] for p in ok(cashier.get("/purchases"))["items"]] == [t1["purchase_id"]]

    def test_analyst_reads_only(self, operator_client, member, purchase):
        analyst = operator_client("analyst")
        for path in ("/program", "/members", f"/members/{member.pk}", f"/members/{member.pk}/balance",
                     f"/members/{member.pk}/ledger", "/purchases", f"/purchases/{purchase.pk}", "/business",
                     "/branches"):
            ok(analyst.get(path))
        before = counts()
        for method, path, body in (
                ("post", "/members", {"mobile": "09121112233"}),
                ("patch", f"/members/{member.pk}", {"first_name": "x"}),
                ("post", f"/members/{member.pk}/cards", {}),
                ("post", "/purchases", purchase_body(member, "AN-1", 100_000)),
                ("post", f"/purchases/{purchase.pk}/returns", {"amount": 1}),
                ("post", f"/purchases/{purchase.pk}/cancel", {}),
                ("post", "/visits", {"member": {"member_id": member.pk}}),
                ("post", "/events", {"member": {"member_id": member.pk}, "name": "x"}),
                ("post", "/adjustments", {"member_id": member.pk, "currency": "points", "amount": 5, "reason": "x"}),
                ("post", "/branches", {"code": "n1", "name": "N"}),
                ("put", "/program", {"rules": []})):
            assert_problem(getattr(analyst, method)(path, body), 403, "scope_too_narrow")
        assert counts() == before


class TestHardening:
    """Smaller findings of the security review (issue 10)."""

    def test_an_event_in_year_1_is_refused(self, business, member, api_client, write_key):
        writer = api_client(write_key)
        response = writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed",
                                           "occurred_at": "0001-01-01T00:00:00Z"}, headers={"Accept-Language": "en"})
        body = assert_problem(response, 422, "invalid_input", fields=["occurred_at"])
        assert body["errors"][0]["code"] == "too_early"
        assert writer.post("/events", {"member": {"member_id": member.pk}, "name": "survey_completed",
                                       "occurred_at": "2001-01-01T00:00:00Z"}).status_code == 201

    def test_a_write_key_cannot_make_a_candidate(self, member, api_client, write_key):
        response = api_client(write_key).patch(f"/members/{member.pk}", {"status": "candidate"})
        assert_problem(response, 422, "invalid_input", fields=["status"])
        assert Member.objects.get(pk=member.pk).status == Member.Status.ACTIVE

    def test_partnerships_are_the_owners_and_a_no_op_emits_nothing(self, operator_client, other_business,
                                                                   api_client, admin_key):
        from vafa.outbox.models import OutboxEvent

        manager = operator_client("manager")
        before = counts()
        assert_problem(manager.post("/partners/other"), 403, "owner_only")
        assert_problem(manager.delete("/partners/other"), 403, "owner_only")
        assert counts() == before
        admin = api_client(admin_key)  # an admin key is the owner's tool
        assert admin.delete("/partners/other").json()["state"] == "none"  # nothing to end
        assert OutboxEvent.objects.filter(business=other_business).count() == 0
        assert admin.post("/partners/other").json()["state"] == "offered"
        assert admin.post("/partners/other").json()["state"] == "offered"  # again: nothing changes
        assert OutboxEvent.objects.filter(business=other_business, event_type="partnership.changed").count() == 1
        assert ok(operator_client("owner").delete("/partners/other"))["state"] == "none"
