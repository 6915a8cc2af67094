import datetime as dt

import pytest
from django.test import Client
from tests.conftest import PROGRAM

from vafa.access.services import create_api_key
from vafa.core.errors import InsufficientBalance, InvalidInput
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances
from vafa.members.balances import adjust, convert_points_to_wallet


def seasonal(program):
    program(PROGRAM | {"loyalty_table": {"rates": [
        {"name": "Nowruz", "start": "1404/12/25", "end": "1405/01/15", "points": 100, "value": 15_000},
        {"name": "base", "points": 100, "value": 10_000}]}})


def test_whole_steps_only_at_the_current_rate(business, member):
    adjust(business, member.pk, "points", 250, reason="test")
    result = convert_points_to_wallet(business, member.pk, 250)
    assert (result["points_converted"], result["wallet_credited"]) == (200, 20_000)
    assert balances(member)["points"]["available"] == 50
    assert balances(member)["wallet"]["available"] == 20_000
    assert Entry.objects.filter(member=member, kind="convert").count() == 2
    assert check_ledger() == []


def test_high_season_rate_applies_inside_its_dates(business, member, program):
    seasonal(program)
    adjust(business, member.pk, "points", 300, reason="test")
    nowruz = dt.datetime(2026, 3, 21, 9, 0, tzinfo=dt.UTC)  # 1 Farvardin 1405
    assert convert_points_to_wallet(business, member.pk, 100, at=nowruz)["wallet_credited"] == 15_000
    later = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    assert convert_points_to_wallet(business, member.pk, 100, at=later)["wallet_credited"] == 10_000


def test_less_than_one_step_and_more_than_the_balance_are_refused(business, member):
    adjust(business, member.pk, "points", 150, reason="test")
    with pytest.raises(InvalidInput):
        convert_points_to_wallet(business, member.pk, 99)
    with pytest.raises(InsufficientBalance):
        convert_points_to_wallet(business, member.pk, 200)
    assert balances(member)["points"]["available"] == 150
    assert not Entry.objects.filter(kind="convert").exists()


def test_conversion_api_with_replay(business, member):
    adjust(business, member.pk, "points", 500, reason="test")
    _, key = create_api_key(business, scope="write")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_IDEMPOTENCY_KEY="conv-1")
    first = client.post(f"/api/v1/members/{member.pk}/conversions", {"points": 300}, content_type="application/json")
    again = client.post(f"/api/v1/members/{member.pk}/conversions", {"points": 300}, content_type="application/json")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert balances(member)["points"]["available"] == 200
    bad = client.post(f"/api/v1/members/{member.pk}/conversions", {"points": "300"}, content_type="application/json",
                      HTTP_IDEMPOTENCY_KEY="conv-2")
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
