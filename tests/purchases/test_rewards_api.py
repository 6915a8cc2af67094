"""A member's rewards are things they hold: listed with what each gives, where and until when; used once on a
purchase (priced like a code) or handed over; given back by a cancellation; expired from the moment they end."""

import copy
import datetime as dt

import pytest
from django.utils import timezone
from tests.api.conftest import assert_problem
from tests.conftest import PROGRAM

from vafa.outbox.models import OutboxEvent
from vafa.purchases.models import IssuedReward

EN = {"Accept-Language": "en"}


@pytest.fixture
def rewards_program(program):
    document = copy.deepcopy(PROGRAM)
    document["rules"] += [
        {"id": "coffee-card", "kind": "stamp", "every": 2,
         "reward": {"code": "FREE-ESP", "name": {"fa": "اسپرسو رایگان", "en": "Free espresso"}, "gives": "free_item",
                    "sku": "ESP", "valid_days": 30, "branches": ["t1"]}},
        {"id": "welcome", "kind": "sequence", "steps": [
            {"code": "MUG", "name": {"fa": "لیوان", "en": "A mug"}},
            {"code": "OFF-50", "name": "50,000 off", "gives": "amount_off", "amount": 50_000},
            {"code": "TEN", "name": "10% off", "gives": "percent_off", "percent": "10", "max_discount": 30_000}]},
    ]
    program(document)


def buy(writer, member, receipt, total=100_000, **extra):
    response = writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": extra.pop("branch", "t1"),
                                          "receipt": receipt, "total": total, **extra}, headers=EN)
    assert response.status_code == 201, response.content
    return response.json()


def rewards(reader, member, status=None) -> dict[str, dict]:
    response = reader.get(f"/members/{member.pk}/rewards", {"status": status} if status else {})
    assert response.status_code == 200, response.content
    return {reward["code"]: reward for reward in response.json()["items"]}


def test_rewards_are_listed_with_what_they_give_where_and_until_when(rewards_program, writer, reader, member):
    first = buy(writer, member, "R-1")
    assert [e["reward_code"] for e in first["effects"] if e["kind"] == "reward"] == ["MUG"]
    buy(writer, member, "R-2")
    held = rewards(reader, member, "available")
    assert sorted(held) == ["FREE-ESP", "MUG", "OFF-50"]
    espresso = held["FREE-ESP"]
    issued = dt.datetime.fromisoformat(espresso["issued_at"])
    assert dt.datetime.fromisoformat(espresso["expires_at"]) == issued + dt.timedelta(days=30)
    assert espresso | {"id": 0, "issued_at": "", "expires_at": "", "reason": "", "purchase_id": 0} == {
        "id": 0, "member_id": member.pk, "code": "FREE-ESP", "name": "اسپرسو رایگان", "status": "available",
        "gives": "free_item", "sku": "ESP", "quantity": 1, "amount": None, "percent": None, "max_discount": None,
        "branches": ["t1"], "expires_at": "", "rule_id": "coffee-card", "reason": "", "issued_at": "",
        "purchase_id": 0, "visit_id": None, "used_at": None, "used_purchase_id": None, "used_branch": None,
        "revoked_at": None}
    assert (held["MUG"]["gives"], held["MUG"]["expires_at"], held["MUG"]["branches"]) == ("thing", None, [])
    assert held["OFF-50"]["amount"] == 50_000
    assert rewards(reader, member, "used") == {} and rewards(reader, member, "expired") == {}
    assert_problem(reader.get(f"/members/{member.pk}/rewards", {"status": "lost"}), 422, "invalid_input",
                   fields=["status"])
    issued_events = OutboxEvent.objects.filter(event_type="reward.issued")
    assert {e.payload["reward_code"]: e.payload["reward_id"] for e in issued_events}["FREE-ESP"] == espresso["id"]


def test_a_reward_on_a_purchase_is_priced_like_a_code_used_once_and_given_back_by_a_cancellation(
        rewards_program, writer, reader, member):
    buy(writer, member, "R-1")
    buy(writer, member, "R-2")
    held = rewards(reader, member)
    items = [{"sku": "ESP", "quantity": 2, "unit_price": 80_000}, {"sku": "CAKE", "quantity": 1, "unit_price": 140_000}]
    sale = buy(writer, member, "R-3", 300_000, items=items, rewards=[held["FREE-ESP"]["id"], held["OFF-50"]["id"]])
    assert sale["discount"] == 80_000 + 50_000 and sale["payable"] == 170_000
    assert sale["rewards"] == [
        {"id": held["FREE-ESP"]["id"], "code": "FREE-ESP", "name": "اسپرسو رایگان", "gives": "free_item",
         "discount": 80_000},
        {"id": held["OFF-50"]["id"], "code": "OFF-50", "name": "50,000 off", "gives": "amount_off", "discount": 50_000}]
    assert [(e["rule_id"], e["amount"]) for e in sale["effects"] if e["kind"] == "discount"] == [
        (f"reward:{held['FREE-ESP']['id']}", 80_000), (f"reward:{held['OFF-50']['id']}", 50_000)]
    used = rewards(reader, member, "used")
    assert sorted(used) == ["FREE-ESP", "OFF-50"]
    assert used["FREE-ESP"]["used_purchase_id"] == sale["id"] and used["FREE-ESP"]["used_branch"] == "t1"
    again = writer.post("/purchases", {"member": {"member_id": member.pk}, "branch": "t1", "receipt": "R-4",
                                       "total": 160_000, "items": items[:1], "rewards": [held["FREE-ESP"]["id"]]},
                        headers=EN)
    problem = assert_problem(again, 409, "reward_not_usable")
    assert (problem["detail"], problem["reason"], problem["reward_id"]) == (
        "this reward has already been used", "used", held["FREE-ESP"]["id"])
    assert writer.post(f"/purchases/{sale['id']}/cancel", {}).status_code == 201
    assert sorted(rewards(reader, member, "available")) == ["FREE-ESP", "MUG", "OFF-50"]
    assert OutboxEvent.objects.filter(event_type="reward.returned").count() == 2


def test_a_reward_is_refused_where_it_cannot_be_used(rewards_program, writer, reader, member):
    buy(writer, member, "R-1")
    buy(writer, member, "R-2")
    held = rewards(reader, member)
    espresso = held["FREE-ESP"]["id"]
    body = {"member": {"member_id": member.pk}, "receipt": "R-3", "total": 80_000,
            "items": [{"sku": "ESP", "unit_price": 80_000}], "rewards": [espresso]}
    wrong_branch = writer.post("/purchases", body | {"branch": "v2"}, headers=EN)
    assert assert_problem(wrong_branch, 409, "reward_not_usable")["detail"] == ("this reward is not accepted at "
                                                                                 "this branch")
    no_espresso = writer.post("/purchases", body | {"branch": "t1", "items": [{"sku": "TEA", "unit_price": 80_000}]},
                              headers=EN)
    assert assert_problem(no_espresso, 409, "reward_not_usable")["reason"] == "no_matching_items"
    unknown = writer.post("/purchases", body | {"branch": "t1", "rewards": [espresso + 1000]})
    assert_problem(unknown, 422, "invalid_input", fields=["rewards.0"])
    IssuedReward.objects.filter(pk=espresso).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert sorted(rewards(reader, member, "expired")) == ["FREE-ESP"]
    assert "FREE-ESP" not in rewards(reader, member, "available")
    expired = writer.post("/purchases", body | {"branch": "t1"}, headers=EN)
    assert assert_problem(expired, 409, "reward_not_usable")["detail"] == "this reward has expired"
    assert IssuedReward.objects.get(pk=espresso).status == "issued"
    assert not IssuedReward.objects.filter(status="used").exists()  # nothing of the refused purchases stayed


def test_a_reward_handed_over_outside_a_sale(rewards_program, writer, reader, member):
    buy(writer, member, "R-1")
    buy(writer, member, "R-2")
    held = rewards(reader, member)
    mug = held["MUG"]["id"]
    used = writer.post(f"/members/{member.pk}/rewards/{mug}/use", {"branch": "v2"}, idem="mug-1")
    assert used.status_code == 201, used.content
    assert (used.json()["status"], used.json()["used_branch"], used.json()["used_purchase_id"]) == ("used", "v2", None)
    replay = writer.post(f"/members/{member.pk}/rewards/{mug}/use", {"branch": "v2"}, idem="mug-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    twice = writer.post(f"/members/{member.pk}/rewards/{mug}/use", {"branch": "v2"}, headers=EN)
    assert assert_problem(twice, 409, "reward_not_usable")["detail"] == "this reward has already been used"
    discount = writer.post(f"/members/{member.pk}/rewards/{held['OFF-50']['id']}/use", {}, headers=EN)
    assert assert_problem(discount, 409, "reward_not_usable")["reason"] == "needs_purchase"
    assert_problem(writer.post(f"/members/{member.pk}/rewards/999999/use", {}), 404, "reward_not_found")
    assert OutboxEvent.objects.filter(event_type="reward.used").count() == 1


def test_a_percent_reward_is_capped(rewards_program, writer, reader, member):
    for receipt in ("R-1", "R-2", "R-3"):
        buy(writer, member, receipt)
    ten = rewards(reader, member)["TEN"]
    assert (ten["gives"], ten["percent"], ten["max_discount"]) == ("percent_off", "10", 30_000)
    sale = buy(writer, member, "R-4", 500_000, items=[{"sku": "X", "unit_price": 500_000}], rewards=[ten["id"]])
    assert sale["discount"] == 30_000 and sale["rewards"][0]["discount"] == 30_000
