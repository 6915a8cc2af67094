"""What a till developer reads in the API says what it means: errors in the business's language, one name for
each thing, how a purchase was paid, a total that adds up, the real reason a code was refused (and a sale that
goes on without it), and purchases registered only so far back."""

import copy
import datetime as dt

import pytest
from django.utils import timezone
from tests.api.conftest import assert_problem
from tests.conftest import PROGRAM

from vafa.access.services import create_api_key
from vafa.outbox.models import OutboxEvent
from vafa.program.services import activate_program
from vafa.purchases.schemas import PaymentOut
from vafa.tenancy.services import create_branch, create_business
from vafa.vouchers.services import create_code, create_definition

EN = {"Accept-Language": "en"}


def body(member, receipt="R-1", total=100_000, **extra) -> dict:
    return {"member": {"member_id": member.pk}, "branch": "t1", "receipt": receipt, "total": total, **extra}


def created(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


# --- the language of errors -------------------------------------------------------------------------------


def test_errors_default_to_the_business_language_then_the_header(db, api_client, reader):
    english = create_business(name="Corner Shop", slug="corner", language="en")
    create_branch(english, code="main", name="Main")
    activate_program(english, PROGRAM)
    shop = api_client(create_api_key(english, scope="read", name="till")[1])
    assert assert_problem(shop.get("/purchases/999999"), 404, "purchase_not_found")["detail"] == "Purchase not found"
    persian = shop.get("/purchases/999999", headers={"Accept-Language": "fa-IR"})
    assert persian.json()["detail"] == "خرید پیدا نشد" and persian["Content-Language"] == "fa"
    # the Persian business answers Persian without the header, English with it
    assert reader.get("/purchases/999999").json()["detail"] == "خرید پیدا نشد"
    assert reader.get("/purchases/999999", headers=EN).json()["detail"] == "Purchase not found"


# --- one name for each thing, and how it was paid ------------------------------------------------------------


def test_a_purchase_is_id_and_items_everywhere_and_tells_how_it_was_paid(writer, reader, member):
    created(writer.post("/purchases", body(member, "R-0", 1_000_000)))  # 100 points to pay with
    items = [{"sku": "ESP", "quantity": 2, "unit_price": 60_000}, {"sku": "CAKE", "unit_price": 80_000}]
    posted = created(writer.post("/purchases", body(member, "R-1", 200_000, items=items,
                                                    redeem={"points": 100})))
    assert posted["id"] == posted["purchase_id"]
    assert (posted["points_redeemed"], posted["points_value"], posted["earning_base"], posted["payable"]) == (
        100, 10_000, 190_000, 190_000)
    detail = reader.get(f"/purchases/{posted['id']}").json()
    assert {name: detail[name] for name in PaymentOut.model_fields} == {
        name: posted[name] for name in PaymentOut.model_fields}
    assert (detail["points_redeemed"], detail["points_value"], detail["payable"]) == (100, 10_000, 190_000)
    assert [(i["sku"], i["quantity"], i["amount"]) for i in detail["items"]] == [("ESP", 2, 120_000),
                                                                             ("CAKE", 1, 80_000)]
    assert detail["lines"] == detail["items"]  # the deprecated alias
    event = OutboxEvent.objects.filter(event_type="purchase.created").order_by("id").last()
    assert {k: event.payload[k] for k in ("purchase_id", "total", "other_amount", "discount", "payable")} == {
        "purchase_id": posted["id"], "total": 200_000, "other_amount": 0, "discount": 0, "payable": 190_000}
    schemas = reader.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["PurchaseOut"]["properties"]["purchase_id"]["deprecated"] is True
    assert schemas["PurchaseDetailOut"]["properties"]["lines"]["deprecated"] is True


# --- a total that adds up --------------------------------------------------------------------------------------


def test_items_must_add_up_to_the_total_or_declare_the_rest(writer, reader, member):
    one_item = [{"sku": "ESP", "unit_price": 100}]
    refused = writer.post("/purchases", body(member, total=1_000_000, items=one_item), headers=EN)
    error = assert_problem(refused, 422, "invalid_input", fields=["total"])["errors"][0]
    assert (error["code"], error["total"], error["items_total"], error["other_amount"]) == (
        "total_is_not_items_plus_other", 1_000_000, 100, 0)
    assert error["message"] == "the total is 1000000, but the items come to 100 and other_amount is 0"
    declared = created(writer.post("/purchases", body(member, total=1_000_000, items=one_item,
                                                      other_amount=999_900)))
    assert declared["other_amount"] == 999_900 and declared["earning_base"] == 1_000_000
    assert [e["amount"] for e in declared["effects"] if e["kind"] == "earn"] == [100]  # the part counts by default
    assert reader.get(f"/purchases/{declared['id']}").json()["other_amount"] == 999_900
    assert_problem(writer.post("/purchases", body(member, "R-2", other_amount=5)), 422, "invalid_input",
                   fields=["other_amount"])


def test_a_rule_may_leave_the_unitemised_part_out(program, writer, member):
    document = copy.deepcopy(PROGRAM)
    document["rules"] = [{"id": "base", "kind": "earn", "per": 100_000, "award": 10, "when": {"other_amount": False}}]
    program(document)
    sale = created(writer.post("/purchases", body(member, total=500_000, other_amount=200_000,
                                                  items=[{"sku": "A", "unit_price": 300_000}])))
    assert [e["amount"] for e in sale["effects"] if e["kind"] == "earn"] == [30]
    # returning the items returns their amount; the unitemised part is what is left
    back = created(writer.post(f"/purchases/{sale['id']}/returns", {"items": [{"sku": "A"}]}))
    assert back["returned_amount"] == 300_000 and back["status"] == "partially_returned"


# --- why a code was refused -------------------------------------------------------------------------------------


@pytest.fixture
def codes(business):
    create_code(create_definition(business, name="ten", kind="percent", percent=10), "GOOD10")
    create_code(create_definition(business, name="three", kind="fixed", amount=5_000, min_quantity=3), "MIN3")
    create_code(create_definition(business, name="old", kind="fixed", amount=5_000,
                                  ends_on=dt.date(2025, 1, 31)), "OLD")


ITEMS = [{"sku": "ESP", "quantity": 2, "unit_price": 50_000}]


@pytest.mark.parametrize("code, language, detail", [
    ("MIN3", "en", "fewer items than the minimum of 3"),
    ("MIN3", None, "تعداد کالاها کمتر از حداقل 3 است"),
    ("OLD", "en", "this code expired on 2025-01-31"),
])
def test_a_refused_code_says_why_in_the_readers_language(writer, member, codes, code, language, detail):
    headers = {"Accept-Language": language} if language else {}
    response = writer.post("/purchases", body(member, items=ITEMS, codes=[code]), headers=headers)
    problem = assert_problem(response, 409, "voucher_rejected")
    assert (problem["detail"], problem["voucher"]) == (detail, code)


def test_a_sale_goes_on_without_the_codes_that_cannot_be_used(writer, member, codes):
    sale = created(writer.post("/purchases", body(member, items=ITEMS, codes=["good10", "MIN3", "NOPE"],
                                                  on_bad_code="skip")))
    assert sale["discount"] == 10_000 and sale["payable"] == 90_000
    assert sale["refused_codes"] == [
        {"code": "NOPE", "reason_code": "not_found", "detail": "چنین کدی وجود ندارد"},
        {"code": "MIN3", "reason_code": "below_min_quantity", "detail": "تعداد کالاها کمتر از حداقل 3 است"}]
    assert [e["rule_id"] for e in sale["effects"] if e["kind"] == "discount"] == ["code:GOOD10"]
    # without skip, the same sale is refused and nothing is written
    refused = writer.post("/purchases", body(member, "R-2", items=ITEMS, codes=["GOOD10", "MIN3"]))
    assert_problem(refused, 409, "voucher_rejected")
    assert_problem(writer.post("/purchases", body(member, "R-3", on_bad_code="maybe")), 422, "invalid_input",
                   fields=["on_bad_code"])


# --- how far back ---------------------------------------------------------------------------------------------


def test_purchases_are_registered_only_so_far_back(program, writer, member):
    long_ago = (timezone.now() - dt.timedelta(days=400)).isoformat()
    refused = writer.post("/purchases", body(member, occurred_at=long_ago), headers=EN)
    error = assert_problem(refused, 422, "invalid_input", fields=["occurred_at"])["errors"][0]
    assert (error["code"], error["max_backdate_days"]) == ("too_far_back", 30)
    assert error["message"] == "a purchase cannot be registered more than 30 days back"
    created(writer.post("/purchases", body(member, "R-2", occurred_at=(timezone.now() - dt.timedelta(days=29))
                                             .isoformat())))
    document = copy.deepcopy(PROGRAM)
    document["settings"]["max_backdate_days"] = 500
    program(document)
    created(writer.post("/purchases", body(member, "R-3", occurred_at=long_ago)))
