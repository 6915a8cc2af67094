"""The vouchers API end to end: define with codes, list, read, generate, validate (with a reservation), and the
problems: 422 with the field named, 403 for a narrow scope or another branch, 404 for another business."""

import pytest
from django.apps import apps
from tests.api.conftest import assert_problem

from vafa.vouchers.models import Redemption, Reservation, VoucherCode, VoucherDefinition
from vafa.vouchers.services import GUESS_LIMIT

ITEMS = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000},
         {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 120_000}]


def voucher_rows() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_app_config("vouchers").get_models()}


@pytest.fixture
def ten(admin):
    response = admin.post("/vouchers", {"name": "ده درصد", "kind": "percent", "percent": 10, "max_discount": 50_000,
                                        "code": "ten", "code_max_uses": 1})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_list_and_read(admin, reader, ten):
    assert ten["codes"] == ["TEN"] and ten["percent"] == "10" and ten["kind"] == "percent"
    assert ten["max_discount"] == 50_000 and ten["codes_count"] == 1 and ten["used_count"] == 0
    got = reader.get(f"/vouchers/{ten['id']}")
    assert got.status_code == 200 and got.json() | {"codes": ["TEN"]} == ten
    listed = reader.get("/vouchers").json()
    assert [v["id"] for v in listed["items"]] == [ten["id"]] and listed["next_cursor"] is None


def test_create_with_generated_codes_and_generate_more(admin):
    response = admin.post("/vouchers", {"name": "batch", "kind": "fixed", "amount": 25_000,
                                        "starts_on": "2025-03-21", "ends_on": "2025-04-02",
                                        "generate": {"count": 5, "length": 6, "prefix": "NW"}})
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["codes"]) == 5 and all(c.startswith("NW") and len(c) == 8 for c in body["codes"])
    assert (body["starts_on"], body["ends_on"]) == ("2025-03-21", "2025-04-02")
    more = admin.post(f"/vouchers/{body['id']}/codes", {"count": 3}, idem="more-1")
    assert more.status_code == 201 and len(more.json()["codes"]) == 3
    replay = admin.post(f"/vouchers/{body['id']}/codes", {"count": 3}, idem="more-1")
    assert replay.json() == more.json() and replay["Idempotent-Replayed"] == "true"
    assert VoucherCode.objects.filter(definition_id=body["id"]).count() == 8


def test_validate_success_with_a_reservation(writer, ten, member):
    response = writer.post("/vouchers/validate", {"code": "ten", "member_id": member.pk, "branch": "t1",
                                                 "items": ITEMS, "shipping": 0, "reserve": True},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body | {"reservation_token": None, "reservation_expires_at": None} == {
        "valid": True, "code": "TEN", "discount": 32_000, "reason": "valid",
        "message": "10% off with code TEN: 32000", "allocation": [20_000, 12_000], "shipping_discount": 0,
        "reservation_token": None, "reservation_expires_at": None}
    assert body["reservation_token"] and body["reservation_expires_at"]
    assert Reservation.objects.get().member_id == member.pk


def test_validate_answers_why_not(writer, ten, make_member):
    response = writer.post("/vouchers/validate", {"code": "NOPE", "items": ITEMS}, headers={"Accept-Language": "fa"})
    assert response.status_code == 200
    assert response.json() | {"allocation": None} == {
        "valid": False, "code": "NOPE", "discount": 0, "reason": "not_found", "message": "چنین کدی وجود ندارد",
        "allocation": None, "shipping_discount": 0, "reservation_token": None, "reservation_expires_at": None}
    VoucherCode.objects.filter(code="TEN").update(used_count=1)
    used = writer.post("/vouchers/validate", {"code": "TEN", "items": ITEMS, "reserve": True}).json()
    assert (used["valid"], used["reason"], used["reservation_token"]) == (False, "used_up", None)
    assert not Reservation.objects.exists() and not Redemption.objects.exists()


def test_validate_422_names_the_field_and_writes_nothing(writer, ten):
    before = voucher_rows()
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "items": [{"sku": "A", "unit_price": 1.5}]}),
                   422, "invalid_input", fields=["items.0.unit_price"])
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "shipping": -1}), 422, fields=["shipping"])
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "branch": "nowhere"}), 422, fields=["branch"])
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "surprise": 1}), 422, fields=["surprise"])
    assert voucher_rows() == before


def test_create_422(admin):
    assert_problem(admin.post("/vouchers", {"name": "x", "kind": "percent", "percent": 101}), 422,
                   fields=["percent"])
    assert_problem(admin.post("/vouchers", {"name": "x", "kind": "fixed", "amount": 10, "code": "a b"}), 422,
                   fields=["code"])
    assert_problem(admin.post("/vouchers", {"name": "x", "kind": "gift"}), 422, fields=["kind"])
    assert not VoucherDefinition.objects.exists()


def test_scopes_and_branches_403(reader, writer, cashier_t1, ten):
    assert_problem(reader.post("/vouchers/validate", {"code": "TEN"}), 403, "scope_too_narrow")
    assert_problem(writer.post("/vouchers", {"name": "x", "kind": "free_shipping"}), 403, "scope_too_narrow")
    assert_problem(writer.post(f"/vouchers/{ten['id']}/codes", {"count": 1}), 403, "scope_too_narrow")
    assert_problem(cashier_t1.post("/vouchers/validate", {"code": "TEN", "branch": "v2"}), 403, "branch_not_allowed")
    assert cashier_t1.post("/vouchers/validate", {"code": "TEN", "branch": "t1", "items": ITEMS}).json()["valid"]


def test_another_business_gets_404(outsider, ten, member):
    assert_problem(outsider.get(f"/vouchers/{ten['id']}"), 404, "voucher_not_found")
    assert_problem(outsider.post(f"/vouchers/{ten['id']}/codes", {"count": 1}), 404, "voucher_not_found")
    assert_problem(outsider.post("/vouchers/validate", {"code": "TEN", "member_id": member.pk}), 404,
                   "member_not_found")
    theirs = outsider.post("/vouchers/validate", {"code": "TEN"}).json()
    assert (theirs["valid"], theirs["reason"]) == (False, "not_found")
    assert outsider.get("/vouchers").json()["items"] == []


def test_guessing_is_throttled_with_429(writer, api_client, business, ten):
    for i in range(GUESS_LIMIT):
        assert writer.post("/vouchers/validate", {"code": f"G{i}"}).json()["reason"] == "not_found"
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "items": ITEMS}), 429, "too_many_attempts")


def test_import_codes_from_a_file(admin, writer, outsider, ten):
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(client, content: bytes, name="codes.csv", idem=None, **form):
        headers = {"HTTP_IDEMPOTENCY_KEY": idem} if idem else {}
        return client.client.post(f"/api/v1/vouchers/{ten['id']}/codes/import",
                                  {"file": SimpleUploadedFile(name, content), **form}, **headers)

    made = upload(admin, b"code\nSHOP-001\nshop-002\n", idem="imp-1", max_uses=2)
    assert made.status_code == 201, made.content
    assert made.json() == {"voucher_id": ten["id"], "codes": ["SHOP-001", "SHOP-002"]}
    assert upload(admin, b"code\nSHOP-001\nshop-002\n", idem="imp-1", max_uses=2).json() == made.json()
    assert VoucherCode.objects.get(code="SHOP-002").max_uses == 2
    before = VoucherCode.objects.count()
    bad = upload(admin, b"SHOP-003\nSHOP-001\nx\n")
    assert_problem(bad, 422, fields=["file.row2", "file.row3"])  # taken, too short: nothing imported
    assert VoucherCode.objects.count() == before
    assert_problem(upload(writer, b"SHOP-009\n"), 403)
    assert_problem(upload(outsider, b"SHOP-009\n"), 404)


# --- guessing: one budget in the database, whatever the endpoint (issue 10 Medium 2, issue 12) ---------------


def _forget_process_state():
    """What a second worker process would see: nothing held in this process's memory."""
    from django.core.cache import cache

    cache.clear()


def test_the_guessing_budget_is_shared_by_worker_processes(writer, ten):
    for i in range(GUESS_LIMIT // 2):
        assert writer.post("/vouchers/validate", {"code": f"G{i}"}).json()["reason"] == "not_found"
    _forget_process_state()
    for i in range(GUESS_LIMIT - GUESS_LIMIT // 2):
        assert writer.post("/vouchers/validate", {"code": f"H{i}"}).json()["reason"] == "not_found"
    _forget_process_state()
    assert_problem(writer.post("/vouchers/validate", {"code": "TEN", "items": ITEMS}), 429, "too_many_attempts")


def test_dry_runs_and_simulations_count_as_guesses(writer, reader, ten, member):
    def purchase(code: str, path: str = "/purchases", client=writer, **extra):
        return client.post(path, {"member": {"member_id": member.pk}, "branch": "t1", "total": 100_000,
                                  "receipt": "R0", "codes": [code], **extra})

    for i in range(GUESS_LIMIT // 2):
        assert_problem(purchase(f"D{i}", dry_run=True), 422, "invalid_input", fields=["codes.0"])
    for i in range(GUESS_LIMIT - GUESS_LIMIT // 2):
        assert_problem(purchase(f"S{i}", "/program/simulate", reader), 422, "invalid_input", fields=["codes.0"])
    # the member's budget is spent, whoever asks next; each key has spent only half of its own
    assert_problem(purchase("TEN", dry_run=True), 429, "too_many_attempts")
    assert writer.post("/vouchers/validate", {"code": "TEN", "items": ITEMS}).json()["valid"]
    assert_problem(purchase("TEN", "/program/simulate", reader), 429, "too_many_attempts")
    # a purchase without codes is no lookup, and goes through
    assert writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "R1",
                                      "total": 100_000}).status_code == 201


def test_a_real_code_refused_again_and_again_does_not_lock_the_key(admin, writer, member):
    response = admin.post("/vouchers", {"name": "big baskets", "kind": "fixed", "amount": 10_000,
                                        "min_amount": 1_000_000, "code": "BIG"})
    assert response.status_code == 201, response.content
    small = [{"sku": "ESP", "category": "coffee", "quantity": 1, "unit_price": 100_000}]
    for _ in range(5 * GUESS_LIMIT):
        refused = writer.post("/vouchers/validate", {"code": "BIG", "member_id": member.pk, "items": small}).json()
        assert (refused["valid"], refused["reason"]) == (False, "below_min_amount")
    large = [{"sku": "ESP", "category": "coffee", "quantity": 10, "unit_price": 100_000}]
    assert writer.post("/vouchers/validate", {"code": "BIG", "member_id": member.pk, "items": large}).json()["valid"]


def test_unknown_gift_cards_count_as_guesses(writer):
    for i in range(GUESS_LIMIT):
        assert_problem(writer.get(f"/gift-cards/NOCARD{i}"), 404, "not_found")
    assert_problem(writer.get("/gift-cards/NOCARD"), 429, "too_many_attempts")
