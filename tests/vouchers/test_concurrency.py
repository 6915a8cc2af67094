"""A single-use code redeemed by 20 purchases at once on PostgreSQL: exactly one gets it."""

import pytest
from django.db import transaction
from tests.conftest import postgres_only
from tests.race import race

from vafa.vouchers.models import Redemption, VoucherCode
from vafa.vouchers.pricing import Basket, BasketLine
from vafa.vouchers.services import VoucherRejected, create_code, create_definition, redeem_codes_for_purchase

THREADS = 20


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_single_use_code_is_redeemed_exactly_once_under_concurrency(business, make_member):
    definition = create_definition(business, name="once", kind="fixed", amount=249)
    create_code(definition, "ONCE", max_uses=1)
    members = [make_member() for _ in range(THREADS)]
    basket = Basket((BasketLine("ESP", "coffee", 1, 1000),))

    def purchase(index: int) -> str:
        with transaction.atomic():
            redeem_codes_for_purchase(business, members[index], 5000 + index, ["ONCE"], basket, "t1")
        return "redeemed"

    outcomes = race(THREADS, purchase, VoucherRejected, lambda exc: exc.params["reason"])
    assert outcomes == ["redeemed"] + ["used_up"] * (THREADS - 1)
    assert VoucherCode.objects.get(code="ONCE").used_count == 1
    assert Redemption.objects.filter(status=Redemption.Status.REDEEMED).count() == 1
    definition.refresh_from_db()
    assert definition.used_count == 1
