"""Ten members ask for the last three units at once (PostgreSQL: real concurrent connections)."""

import threading
from collections import Counter

import pytest
from django.db import connection

from conftest import postgres_only
from vafa.catalogue.models import Gift, GiftCode, GiftRequest
from vafa.catalogue.services import create_gift, import_partner_codes, request_gift
from vafa.core.errors import Conflict
from vafa.ledger.check import check_ledger
from vafa.ledger.services import spendable
from vafa.members.balances import adjust

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def _race(business, members, gift_id) -> list:
    barrier = threading.Barrier(len(members))
    outcomes: list = [None] * len(members)

    def worker(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = ("ok", request_gift(business, members[i].pk, gift_id)["id"])
        except Conflict as exc:
            outcomes[i] = ("conflict", exc.detail)
        except Exception as exc:  # every outcome is inspected below
            outcomes[i] = ("error", repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(members))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_ten_requests_for_three_units(business, make_member):
    gift = create_gift(business, title="ماگ", price_currency="coins", price=100, stock=3)
    members = [make_member() for _ in range(10)]
    for member in members:
        adjust(business, member.pk, "coins", 150, reason="test")
    outcomes = _race(business, members, gift.pk)
    assert Counter(kind for kind, _ in outcomes) == {"ok": 3, "conflict": 7}, outcomes
    assert {value for kind, value in outcomes if kind == "conflict"} == {"out_of_stock"}
    assert Gift.objects.get(pk=gift.pk).stock == 0
    assert GiftRequest.objects.count() == 3
    assert sorted(spendable(m, "coins") for m in members) == [50] * 3 + [150] * 7
    assert check_ledger() == []


def test_ten_requests_for_three_partner_codes(business, make_member):
    gift = create_gift(business, title="سینما", price_currency="coins", price=100, partner_name="سینما")
    import_partner_codes(business, gift.pk, ["C1", "C2", "C3"])
    members = [make_member() for _ in range(10)]
    for member in members:
        adjust(business, member.pk, "coins", 150, reason="test")
    outcomes = _race(business, members, gift.pk)
    assert Counter(kind for kind, _ in outcomes) == {"ok": 3, "conflict": 7}, outcomes
    assert sorted(GiftRequest.objects.values_list("code", flat=True)) == ["C1", "C2", "C3"]
    assert not GiftCode.objects.filter(status="available").exists()
    assert check_ledger() == []
