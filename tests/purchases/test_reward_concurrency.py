"""One reward used by 20 tills at once on PostgreSQL, half handing it over and half on a purchase: exactly one
gets it."""

import threading

import pytest
from django.db import connection
from django.utils import timezone
from tests.conftest import postgres_only

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
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def till(index: int) -> None:
        try:
            start.wait()
            if index % 2:
                use_reward(business, member.pk, reward.pk, branch_code="t1")
            else:
                record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"R-{index}",
                                total=80_000, lines=[{"sku": "ESP", "unit_price": 80_000}], rewards=[reward.pk])
            outcome = "got it"
        except RewardRefused as exc:
            outcome = str(exc.params["reason"])
        except Exception as exc:  # noqa: BLE001 - report any other failure in the assertion below
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=till, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["got it"] + ["used"] * (THREADS - 1)
    reward.refresh_from_db()
    assert reward.status == "used"
    # the purchases refused wrote nothing; at most the one that got it remains
    assert Purchase.objects.count() == (1 if reward.used_purchase_id else 0)
