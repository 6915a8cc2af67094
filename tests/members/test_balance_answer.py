"""The balance read's answer rendered without Ninja's response validation (core.schemas.shaped) is, byte for byte,
what that validation rendered: for generated answers, and for real reads (a new member; points that expire, wallet
pending, coins, gift credit with restrictions, a tier; in Persian and in English)."""

import copy
import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api import shaping
from tests.api.helpers import LOYALTY_TABLE, TIERS, purchase_body

from vafa.members import api as members_api


def validated_bytes(answer: dict) -> bytes:
    return shaping.validated_bytes(members_api.router, members_api.get_balance, answer)


def shaped_bytes(answer: dict) -> bytes:
    return shaping.shaped_bytes(members_api.BalanceOut, answer)


texts = st.text(alphabet=st.sampled_from("abc ۱۲ نقره‌ای\"\\/\n\u200c😀"), max_size=8)
ints = st.integers(-(10**15), 10**15)
amounts = st.fixed_dictionaries({"available": ints, "pending": ints})
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                       timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=3, minutes=30))]))
answers = st.fixed_dictionaries(
    {"member_id": ints, **{name: amounts for name in ("points", "coins", "wallet", "gift_credit")},
     "gift_credit_restrictions": st.lists(st.fixed_dictionaries(
         {"amount": ints, "categories": st.lists(texts, max_size=2), "branches": st.lists(texts, max_size=2),
          "expires_at": st.none() | moments}), max_size=2),
     "tier": st.fixed_dictionaries({"code": st.none() | texts, "name": st.none() | texts, "metric": ints,
                                    "next_code": st.none() | texts, "next_name": st.none() | texts,
                                    "remaining_to_next": ints}),
     "expiring_soon": st.lists(st.fixed_dictionaries({"currency": texts, "amount": ints, "expires_at": moments}),
                               max_size=3)},
    optional={"stamps": amounts})  # a balance the answer leaves out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers)
def test_shaped_renders_what_the_validation_rendered(answer):
    assert shaped_bytes(answer) == validated_bytes(copy.deepcopy(answer))


@pytest.fixture
def answered(monkeypatch):
    """Every answer the balance read renders, beside the bytes it sent."""
    return shaping.spy_on_shaped(monkeypatch, members_api)


def test_real_answers_are_the_bytes_the_validation_rendered(program, writer, admin, reader, member, answered):
    path = f"/members/{member.pk}/balance"
    sent = [reader.get(path)]  # a new member
    program({"settings": {"currencies": {"points": {"expiry_days": 20},
                                         "wallet": {"expiry_days": 180, "pending_days": 14}}},
             "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                       {"id": "cb", "kind": "cashback", "percent": 5}],
             "tiers": TIERS, "loyalty_table": LOYALTY_TABLE})
    when = (timezone.now() - dt.timedelta(days=1)).replace(microsecond=0)
    assert writer.post("/purchases", purchase_body(member, "B-1", 6_000_000,
                                                   occurred_at=when.isoformat())).status_code == 201
    assert admin.post("/adjustments", {"member_id": member.pk, "currency": "coins", "amount": 7,
                                       "reason": "c"}).status_code == 201
    expires = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    assert admin.post("/gift-credit/grants", {"amount": 50_000, "reason": "birthday", "member_ids": [member.pk],
                                              "categories": ["coffee"], "expires_at": expires.isoformat()},
                      ).status_code == 201
    sent += [reader.get(path), reader.get(path, {"expiring_days": 10}),
             reader.get(path, headers={"Accept-Language": "en"})]
    assert [response.status_code for response in sent] == [200] * 4
    assert sent[1].json()["expiring_soon"] and sent[1].json()["gift_credit_restrictions"]
    assert len(answered) == len(sent)
    for response, answer in zip(sent, answered, strict=True):
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert response.content == validated_bytes(answer)
