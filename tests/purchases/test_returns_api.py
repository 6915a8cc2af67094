"""Every return is checked against what is not yet returned, whatever its form: a return by items after a
return by amount cannot return more than was sold, and the webhook events never carry more."""

from tests.api.conftest import assert_problem

from vafa.outbox.models import OutboxEvent
from vafa.purchases.models import Purchase, Return

ITEMS = [{"sku": "A", "quantity": 2, "unit_price": 250_000}, {"sku": "B", "quantity": 1, "unit_price": 500_000}]


def sale(writer, member) -> int:
    response = writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "R-1",
                                          "total": 1_000_000, "items": ITEMS})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def returned_amounts() -> list[int]:
    return [event.payload["amount"] for event in OutboxEvent.objects.filter(event_type="purchase.returned")
            .order_by("id")]


def test_items_worth_more_than_is_left_after_a_return_by_amount_are_refused(writer, member):
    purchase_id = sale(writer, member)
    first = writer.post(f"/purchases/{purchase_id}/returns", {"amount": 600_000})
    assert first.status_code == 201 and first.json()["returned_total"] == 600_000
    refused = writer.post(f"/purchases/{purchase_id}/returns", {"items": [{"sku": "B"}]},  # worth 500,000
                          headers={"Accept-Language": "en"})
    problem = assert_problem(refused, 422, "invalid_input", fields=["items"])
    assert problem["errors"][0] | {"message": ""} == {
        "field": "items", "code": "items_worth_more_than_not_yet_returned", "message": "",
        "requested": 500_000, "available": 400_000}
    assert problem["errors"][0]["message"] == ("the items are worth 500000, but only 400000 of this purchase is "
                                               "left to return")
    purchase = Purchase.objects.get(pk=purchase_id)
    assert (purchase.returned_amount, purchase.status) == (600_000, "partially_returned")
    assert Return.objects.count() == 1 and returned_amounts() == [600_000]
    # items worth what is left still go back, and the purchase is then fully returned: never more than sold
    rest = writer.post(f"/purchases/{purchase_id}/returns", {"items": [{"sku": "A", "quantity": 1}]})
    assert rest.status_code == 201, rest.content
    assert rest.json()["returned_amount"] == 250_000 and rest.json()["returned_total"] == 850_000
    assert returned_amounts() == [600_000, 250_000]
    assert writer.post(f"/purchases/{purchase_id}/returns", {"amount": 150_001}).status_code == 422
    last = writer.post(f"/purchases/{purchase_id}/cancel", {})
    assert last.status_code == 201 and last.json()["returned_amount"] == 150_000
    assert Purchase.objects.get(pk=purchase_id).returned_amount == 1_000_000


def test_a_return_by_amount_after_items_is_bounded_too(writer, member):
    purchase_id = sale(writer, member)
    assert writer.post(f"/purchases/{purchase_id}/returns", {"items": [{"sku": "B"}]}).status_code == 201
    assert_problem(writer.post(f"/purchases/{purchase_id}/returns", {"amount": 500_001}), 422, "invalid_input",
                   fields=["amount"])
    assert Purchase.objects.get(pk=purchase_id).returned_amount == 500_000
