"""A use case that fails halfway leaves nothing behind: an error forced late inside the transaction (at the
outbox emit, after the ledger entries, lots, voucher uses and stock changes are written) rolls everything back."""

import pytest

from vafa.catalogue.services import create_gift, request_gift
from vafa.ledger.check import check_ledger
from vafa.members.balances import adjust
from vafa.outbox import services as outbox
from vafa.purchases.services import record_purchase, return_purchase
from vafa.vouchers.services import create_code, create_definition

from .conftest import counts


class Boom(Exception):
    pass


@pytest.fixture
def fail_at(monkeypatch):
    """fail_at(module, event_type): that module's `emit` raises for that event, after the real work."""

    def arm(module, event_type: str):
        real = outbox.emit

        def emit(business_id, kind, payload):
            if kind == event_type:
                raise Boom(kind)
            return real(business_id, kind, payload)

        monkeypatch.setattr(module, "emit", emit)

    return arm


def assert_untouched(before: dict) -> None:
    assert counts() == before
    assert check_ledger() == []


@pytest.fixture
def funded(business, member):
    adjust(business, member.pk, "points", 5000, reason="seed")
    adjust(business, member.pk, "coins", 500, reason="seed")
    return member


def test_a_purchase_with_a_voucher_and_a_spend(business, funded, fail_at):
    import vafa.purchases.services as purchases

    definition = create_definition(business, name="ten off", kind="fixed", amount=10_000)
    create_code(definition, "TENOFF", max_uses=1)
    fail_at(purchases, "purchase.created")
    before = counts()
    with pytest.raises(Boom):
        record_purchase(business, member_id=funded.pk, branch_code="t1", receipt="F-1", total=500_000,
                        codes=["TENOFF"], redeem_points=100, idempotency_key="k-1")
    assert_untouched(before)
    # the key is not burnt: the same request succeeds once the fault is gone
    fail_at(purchases, "no.such.event")
    assert record_purchase(business, member_id=funded.pk, branch_code="t1", receipt="F-1", total=500_000,
                           codes=["TENOFF"], redeem_points=100, idempotency_key="k-1")["replayed"] is False


def test_a_return(business, funded, fail_at):
    import vafa.purchases.reversals as purchases  # where the return is written since issue 11

    bought = record_purchase(business, member_id=funded.pk, branch_code="t1", receipt="F-2", total=800_000,
                             redeem_points=200)
    fail_at(purchases, "purchase.returned")
    before = counts()
    with pytest.raises(Boom):
        return_purchase(business, bought["purchase_id"], amount=400_000)
    assert_untouched(before)


def test_a_gift_request(business, funded, fail_at):
    import vafa.catalogue.services as catalogue

    gift = create_gift(business, title="ماگ", price_currency="coins", price=120, stock=2)
    fail_at(catalogue, "gift.requested")
    before = counts()
    with pytest.raises(Boom):
        request_gift(business, funded.pk, gift.pk)
    assert_untouched(before)
    gift.refresh_from_db()
    assert gift.stock == 2
