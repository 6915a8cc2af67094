"""Through the API: expired points leave the balance and refuse spends from the minute they expire (before the
job runs), pending points spend from the minute they are released, an ended voucher is refused, and gift credit
spent outside its restrictions answers restricted_credit naming what it is for."""

import datetime as dt

import pytest
from django.utils import timezone
from tests.api.conftest import assert_problem
from tests.ledger.helpers import document

from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.members.balances import expire_lots, release_pending

COFFEE = {"sku": "ESP", "category": "coffee", "quantity": 1, "unit_price": 30_000}
CAKE = {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 70_000}


def buy(client, member, receipt, total, branch="t1", headers=None, **extra):
    return client.post("/purchases", {"member": {"member_id": member.pk}, "branch": branch, "receipt": receipt,
                                      "total": total, **extra}, headers=headers)


def created(response, status: int = 201) -> dict:
    assert response.status_code == status, response.content.decode()
    return response.json()


def balance_of(reader, member) -> dict:
    response = reader.get(f"/members/{member.pk}/balance")
    assert response.status_code == 200, response.content.decode()
    return response.json()


def test_points_past_their_expiry_are_gone_before_the_job(program, writer, reader, member):
    program(document(expiry_days=1, rate=(1, 1000)))
    now = timezone.now().replace(microsecond=0)
    created(buy(writer, member, "OLD", 1_000_000, occurred_at=(now - dt.timedelta(days=1, minutes=2)).isoformat()))
    created(buy(writer, member, "NEW", 300_000, occurred_at=(now - dt.timedelta(days=1) + dt.timedelta(minutes=5))
                .isoformat()))
    body = balance_of(reader, member)
    assert body["points"] == {"available": 30, "pending": 0}  # the 100 expired two minutes ago
    assert [(e["currency"], e["amount"]) for e in body["expiring_soon"]] == [("points", 30)]

    spend = {"redeem": {"points": 31}}
    for dry_run in (True, False):
        refused = buy(writer, member, "SPEND", 31_000, dry_run=dry_run, **spend)
        problem = assert_problem(refused, 409, "insufficient_balance")
        assert (problem["needed"], problem["available"]) == (31, 30)
    assert not Entry.objects.filter(kind=Entry.Kind.EXPIRE).exists()  # refused: nothing written

    assert expire_lots() == 1  # the job writes down what happened two minutes ago
    expiry = Entry.objects.get(kind=Entry.Kind.EXPIRE)
    assert (expiry.amount, expiry.created_at) == (100, now - dt.timedelta(minutes=2))
    assert expire_lots() == 0
    assert balance_of(reader, member)["points"] == {"available": 30, "pending": 0}
    assert created(buy(writer, member, "SPEND", 30_000, redeem={"points": 30}))["points_redeemed"] == 30
    assert check_ledger() == []


def test_pending_points_are_spendable_from_their_release_minute(program, writer, reader, member):
    program(document(pending_days=1, rate=(1, 1000)))
    now = timezone.now().replace(microsecond=0)
    created(buy(writer, member, "R1", 1_000_000, occurred_at=(now - dt.timedelta(days=1, minutes=1)).isoformat()))
    created(buy(writer, member, "R2", 500_000, occurred_at=(now - dt.timedelta(hours=23)).isoformat()))
    assert balance_of(reader, member)["points"] == {"available": 100, "pending": 50}
    dry = created(buy(writer, member, "S1", 100_000, redeem={"points": 100}, dry_run=True), 200)
    assert dry["points_redeemed"] == 100
    spent = created(buy(writer, member, "S1", 100_000, redeem={"points": 100}))
    assert spent["balance"]["points"] == {"available": 0, "pending": 50}
    assert release_pending() == 0  # already written down by the spend
    assert Entry.objects.get(kind=Entry.Kind.RELEASE).created_at == now - dt.timedelta(minutes=1)
    assert check_ledger() == []


def test_a_voucher_past_its_last_day_is_refused(admin, writer, member, business):
    from zoneinfo import ZoneInfo

    yesterday = timezone.now().astimezone(ZoneInfo(business.timezone)).date() - dt.timedelta(days=1)
    made = admin.post("/vouchers", {"name": "old", "kind": "fixed", "amount": 5_000, "code": "ENDED",
                                    "ends_on": yesterday.isoformat()})
    assert made.status_code == 201, made.content
    problem = assert_problem(buy(writer, member, "V1", 100_000, codes=["ended"]), 409, "voucher_rejected")
    assert problem["reason"] == "expired"


@pytest.fixture
def coffee_credit(admin, member):
    expires = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    granted = admin.post("/gift-credit/grants", {"amount": 50_000, "reason": "birthday", "member_ids": [member.pk],
                                                 "categories": ["coffee"], "expires_at": expires.isoformat()})
    assert granted.status_code == 201, granted.content
    return expires


def test_the_balance_shows_what_gift_credit_is_for(reader, member, coffee_credit):
    body = balance_of(reader, member)
    assert body["gift_credit"] == {"available": 50_000, "pending": 0}
    assert [(r["amount"], r["categories"], r["branches"], dt.datetime.fromisoformat(r["expires_at"]))
            for r in body["gift_credit_restrictions"]] == [(50_000, ["coffee"], [], coffee_credit)]


def test_gift_credit_outside_its_categories_answers_restricted_credit(writer, reader, member, coffee_credit):
    refused = buy(writer, member, "G1", 70_000, items=[CAKE], redeem={"gift_credit": 20_000},
                  headers={"Accept-Language": "en"})
    problem = assert_problem(refused, 409, "restricted_credit")
    assert problem["detail"].startswith("This gift credit cannot be used for these items or at this branch")
    assert (problem["currency"], problem["needed"], problem["available"], problem["usable"]) == (
        "gift_credit", 20_000, 50_000, 0)
    assert problem["allowed"] == [{"categories": ["coffee"], "branches": [], "amount": 50_000}]
    persian = assert_problem(buy(writer, member, "G1", 70_000, items=[CAKE], redeem={"gift_credit": 20_000},
                                 headers={"Accept-Language": "fa"}), 409, "restricted_credit")
    assert persian["detail"].startswith("اعتبار هدیه برای این اقلام")

    # within the coffee line it pays; more than the member holds is still insufficient_balance
    paid = created(buy(writer, member, "G2", 100_000, items=[COFFEE, CAKE], redeem={"gift_credit": 30_000}))
    assert paid["gift_credit_redeemed"] == 30_000
    short = assert_problem(buy(writer, member, "G3", 100_000, items=[COFFEE, CAKE], redeem={"gift_credit": 30_000}),
                           409, "insufficient_balance")
    assert (short["needed"], short["available"]) == (30_000, 20_000)
    assert balance_of(reader, member)["gift_credit_restrictions"][0]["amount"] == 20_000
    assert check_ledger() == []


def test_gift_credit_for_another_branch_answers_restricted_credit(admin, writer, member):
    granted = admin.post("/gift-credit/grants", {"amount": 40_000, "reason": "opening", "member_ids": [member.pk],
                                                 "branches": ["v2"]})
    assert granted.status_code == 201, granted.content
    problem = assert_problem(buy(writer, member, "B1", 40_000, redeem={"gift_credit": 40_000}), 409,
                             "restricted_credit")
    assert problem["allowed"] == [{"categories": [], "branches": ["v2"], "amount": 40_000}]
    paid = created(buy(writer, member, "B1", 40_000, branch="v2", redeem={"gift_credit": 40_000}))
    assert paid["gift_credit_redeemed"] == 40_000


def test_the_members_export_counts_expiry_and_release_at_the_minute(program, writer, reader, member):
    import csv
    import io

    program(document(expiry_days=3, pending_days=1))
    now = timezone.now().replace(microsecond=0)
    created(buy(writer, member, "GONE", 1_000_000, occurred_at=(now - dt.timedelta(days=3, minutes=1)).isoformat()))
    created(buy(writer, member, "FREE", 300_000, occurred_at=(now - dt.timedelta(days=1, minutes=1)).isoformat()))
    created(buy(writer, member, "WAIT", 500_000, occurred_at=(now - dt.timedelta(hours=1)).isoformat()))
    response = reader.get("/members/export", {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert [row["points"] for row in rows] == ["30"]  # 100 expired, 30 released a minute ago, 50 still pending
    assert balance_of(reader, member)["points"] == {"available": 30, "pending": 50}
