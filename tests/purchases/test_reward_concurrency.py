"""One reward used by 20 tills at once on PostgreSQL, half handing it over and half on a purchase: exactly one
gets it."""

import pytest
from django.utils import timezone
from tests.conftest import postgres_only
from tests.race import race

from vafa.purchases.models import IssuedReward, Purchase
from vafa.purchases.services import RewardRefused, record_purchase, use_reward

THREADS = 20


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reward_is_used_exactly_once_under_concurrency(business, member):
    reward = IssuedReward.objects.create(business=business, member=member, rule_id="card", key="stamp:card:1",
                                         reward_code="FREE", name="Free espresso", reason="stamp card",
                                         issued_at=timezone.now(), gives="free_item",
                                         terms={"sku": "ESP", "quantity": 1})

    def till(index: int) -> str:
        if index % 2:
            use_reward(business, member.pk, reward.pk, branch_code="t1")
        else:
            record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"R-{index}",
                            total=80_000, lines=[{"sku": "ESP", "unit_price": 80_000}], rewards=[reward.pk])
        return "got it"

    outcomes = race(THREADS, till, RewardRefused, lambda exc: str(exc.params["reason"]))
    assert outcomes == ["got it"] + ["used"] * (THREADS - 1)
    reward.refresh_from_db()
    assert reward.status == "used"
    # the purchases refused wrote nothing; at most the one that got it remains
    assert Purchase.objects.count() == (1 if reward.used_purchase_id else 0)
