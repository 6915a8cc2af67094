import pytest
from django.test import Client

from vafa.access.services import create_api_key
from vafa.core.errors import InsufficientBalance
from vafa.ledger.check import check_ledger
from vafa.ledger.giftcards import issue_gift_card
from vafa.ledger.models import GiftCard
from vafa.members.services import sign_up
from vafa.purchases.services import record_purchase, return_purchase
from vafa.vouchers.services import create_code, create_definition


@pytest.fixture
def usd(other_business):
    from vafa.program.services import activate_program

    activate_program(other_business, {"rules": [{"id": "base", "kind": "earn", "per": 100, "award": 1}]})
    return other_business


def test_a_card_of_100_on_an_order_of_5_75_keeps_94_25(usd):
    card = issue_gift_card(usd, amount=100_00)
    buyer = sign_up(usd, mobile="+447911123423")
    paid = record_purchase(usd, member_id=buyer.pk, branch_code="main", receipt="C1", total=5_75,
                           gift_card={"code": card.code, "amount": 5_75})
    assert (paid["gift_card_redeemed"], paid["payable"]) == (5_75, 0)
    card.refresh_from_db()
    assert card.balance == 94_25
    assert check_ledger() == []


def test_an_order_of_100_with_a_card_of_50_then_a_10_percent_code_leaves_40(usd):
    card = issue_gift_card(usd, amount=50_00)
    create_code(create_definition(usd, name="ten", kind="percent", percent=10), "TEN")
    buyer = sign_up(usd, mobile="+447911123424")
    paid = record_purchase(usd, member_id=buyer.pk, branch_code="main", receipt="C2", total=100_00,
                           codes=["TEN"], gift_card={"code": card.code.lower(), "amount": 50_00})
    assert (paid["discount"], paid["gift_card_redeemed"], paid["payable"]) == (10_00, 50_00, 40_00)


def test_partial_spends_never_overdraw_and_a_return_gives_back(usd):
    card = issue_gift_card(usd, amount=30_00)
    buyer = sign_up(usd, mobile="+447911123425")
    first = record_purchase(usd, member_id=buyer.pk, branch_code="main", receipt="C3", total=20_00,
                            gift_card={"code": card.code, "amount": 20_00})
    with pytest.raises(InsufficientBalance):
        record_purchase(usd, member_id=buyer.pk, branch_code="main", receipt="C4", total=20_00,
                        gift_card={"code": card.code, "amount": 20_00})
    return_purchase(usd, first["purchase_id"], amount=10_00)
    assert GiftCard.objects.get(pk=card.pk).balance == 20_00
    assert check_ledger() == []


def test_gift_card_api(business):
    _, admin = create_api_key(business, scope="admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {admin}")
    made = client.post("/api/v1/gift-cards", {"amount": 500_000}, content_type="application/json")
    assert made.status_code == 201
    code = made.json()["code"]
    assert client.get(f"/api/v1/gift-cards/{code}").json()["balance"] == 500_000
    assert client.get("/api/v1/gift-cards/NOPE").status_code == 404


def test_issuing_a_gift_card_takes_an_idempotency_key(business):
    _, admin = create_api_key(business, scope="admin")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {admin}")

    def issue():
        return client.post("/api/v1/gift-cards", {"amount": 500_000}, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY="card-1")

    first, again = issue(), issue()
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert GiftCard.objects.filter(business=business).count() == 1
