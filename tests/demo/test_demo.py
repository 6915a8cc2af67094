import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from vafa.demo.generator import generate_demo
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry
from vafa.members.models import Card, Member
from vafa.purchases.models import IssuedReward, Purchase, PurchaseLine
from vafa.tenancy.models import Business

NOW = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)  # the year before it holds Nowruz 1405


def fingerprint(business) -> dict:
    """What the demo wrote for a business, in numbers that do not depend on row ids."""
    purchases = Purchase.objects.filter(business=business)
    return {
        "members": list(Member.objects.filter(business=business).order_by("mobile")
                        .values_list("mobile", "first_name", "last_name", "tier", "joined_at")),
        "purchases": purchases.aggregate(n=Count("id"), total=Sum("total"), discount=Sum("discount"),
                                         points=Sum("points_redeemed"), wallet=Sum("wallet_redeemed"),
                                         spend=Sum("spend")),
        "statuses": dict(purchases.values_list("status").annotate(n=Count("id")).order_by("status")),
        "lines": PurchaseLine.objects.filter(business=business).aggregate(n=Sum("quantity"), amount=Sum("amount")),
        "entries": sorted(Entry.objects.filter(business=business).values_list("kind", "currency")
                          .annotate(n=Count("id"), amount=Sum("amount"))),
        "rewards": sorted(IssuedReward.objects.filter(business=business).values_list("reward_code", "status")
                          .annotate(n=Count("id"))),
        "cards": Card.objects.filter(business=business).count(),
    }


@pytest.mark.django_db
def test_the_demo_is_realistic_deterministic_consistent_and_made_once():
    first = generate_demo(members=30, seed=7, slug="demo-a", now=NOW)
    assert first.created
    business = first.business
    assert (business.name, business.currency, business.timezone, business.calendar) == (
        "کافه وفا", "IRT", "Asia/Tehran", "jalali")
    assert sorted(business.branches.values_list("code", flat=True)) == ["enghelab", "tajrish", "vanak"]
    assert first.members == 30
    assert first.purchases > 60
    assert first.entries > first.purchases
    assert 0 < first.cards < 30
    purchases = Purchase.objects.filter(business=business)
    assert purchases.filter(occurred_at__gt=NOW).count() == 0
    assert PurchaseLine.objects.filter(business=business, category="coffee").exists()
    assert set(purchases.values_list("branch__code", flat=True)) == {"enghelab", "tajrish", "vanak"}
    assert purchases.filter(points_redeemed__gt=0).exists(), "some purchases pay with points"
    assert Entry.objects.filter(business=business, kind=Entry.Kind.RELEASE).exists()
    assert IssuedReward.objects.filter(business=business, reward_code="FREE-PASTRY").exists()
    assert check_ledger() == []

    # The same seed on fresh data (another slug) gives the same history, to the last point.
    second = generate_demo(members=30, seed=7, slug="demo-b", now=NOW)
    assert second.created
    assert fingerprint(second.business) == fingerprint(business)
    assert check_ledger() == []

    # Once: asking again for an existing demo writes nothing.
    before = fingerprint(business)
    again = generate_demo(members=30, seed=99, slug="demo-a", now=NOW)
    assert not again.created
    assert again.business == business
    assert (again.members, again.purchases, again.entries) == (first.members, first.purchases, first.entries)
    assert fingerprint(business) == before


@pytest.mark.django_db
def test_the_demo_command_creates_the_data_and_prints_how_to_log_in():
    out, err = io.StringIO(), io.StringIO()
    call_command("demo", "--no-serve", "--members", "20", "--port", "8123", stdout=out, stderr=err)
    text = out.getvalue()
    assert "admin" in text
    assert "vafa-demo-1234" in text
    assert "http://127.0.0.1:8123/admin/" in text
    assert "http://127.0.0.1:8123/m/cafe-vafa/" in text  # the member app (issue 16)
    assert "100%" in err.getvalue()
    assert "http://127.0.0.1:8123/till/" in text and "cashier / vafa-demo-1234" in text
    user = get_user_model().objects.get(username="admin")
    assert user.is_staff and user.is_superuser and user.check_password("vafa-demo-1234")
    business = Business.objects.get(slug="cafe-vafa")
    assert Member.objects.filter(business=business).count() == 20
    purchases = Purchase.objects.filter(business=business).count()
    assert purchases > 0

    out = io.StringIO()
    call_command("demo", "--no-serve", "--members", "20", stdout=out, stderr=io.StringIO())
    assert Purchase.objects.filter(business=business).count() == purchases
    assert get_user_model().objects.filter(username="admin").count() == 1
    cashier = get_user_model().objects.get(username="cashier")
    assert cashier.check_password("vafa-demo-1234") and cashier.operator.role == "cashier"
    assert cashier.operator.branches.count() == 1
    assert "admin" in out.getvalue()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "demo.example"])
def test_the_demo_refuses_a_public_host_unless_told_its_password_is_acceptable(db, host, monkeypatch):
    served = []
    monkeypatch.setattr("vafa.demo.management.commands.demo.call_command",
                        lambda name, *a, **kw: served.append(name))
    monkeypatch.setattr("vafa.demo.management.commands.demo.migrate", lambda: served.append("migrate"))
    with pytest.raises(CommandError, match="accept-public-password"):
        call_command("demo", "--host", host, "--members", "1", stdout=io.StringIO(), stderr=io.StringIO())
    assert served == []  # refused before anything: no migrate, no serve


@pytest.mark.parametrize("host, flags", [("127.0.0.1", []), ("::1", []), ("localhost", []),
                                         ("0.0.0.0", ["--accept-public-password"])])
def test_the_demo_serves_on_loopback_or_when_told(db, host, flags, monkeypatch):
    served = []
    monkeypatch.setattr("vafa.demo.management.commands.demo.call_command",
                        lambda name, *a, **kw: served.append(name))
    monkeypatch.setattr("vafa.demo.management.commands.demo.migrate", lambda: served.append("migrate"))
    monkeypatch.setattr("vafa.demo.management.commands.demo.generate_demo", _fake_demo)
    monkeypatch.setattr("vafa.demo.management.commands.demo.ensure_admin", lambda business: None)
    monkeypatch.setattr("vafa.demo.management.commands.demo.ensure_cashier", lambda business: ("cashier", "b1"))
    monkeypatch.setattr("vafa.demo.management.commands.demo.sample_member_mobile", lambda business: "09120000000")
    monkeypatch.setattr("vafa.demo.management.commands.demo.demo_api_key", lambda business, data_dir: "vk_x")
    call_command("demo", "--host", host, *flags, stdout=io.StringIO(), stderr=io.StringIO())
    assert served == ["migrate", "serve"]


def _fake_demo(**kwargs):
    from types import SimpleNamespace

    business = SimpleNamespace(name="Demo", slug="demo")
    return SimpleNamespace(created=False, business=business, members=1, purchases=0, entries=0, seconds=0)


@pytest.mark.django_db
def test_the_generator_redeems_only_what_the_member_holds_at_the_purchase():
    """Points earned two days before a purchase are still pending then (the 7-day return window), although they
    are available by the time the demo is generated: asking for them was `vafa demo --members 5000`'s
    InsufficientBalance."""
    from vafa.demo.generator import MENU, _create_business, _Member, _Purchase, _redeem
    from vafa.members.services import sign_up
    from vafa.program.selectors import active_program
    from vafa.purchases.services import record_purchase

    business = _create_business("demo-r", "کافه")
    _, document = active_program(business)
    earned_at = NOW - dt.timedelta(days=30)
    member = sign_up(business, mobile="09121234567", joined_at=earned_at - dt.timedelta(hours=1))
    cake = next(item for item in MENU if item[0] == "PS-CHS")
    lines = [{"sku": cake[0], "name": cake[1], "category": cake[2], "quantity": 20, "unit_price": cake[3]}]
    record_purchase(business, member_id=member.pk, branch_code="vanak", receipt="R-1", total=20 * cake[3],
                    occurred_at=earned_at, lines=lines)
    planned = _Member(0, "09121234567", {}, earned_at, "regular", "vanak", None, member.pk, member)
    buy = _Purchase(1, planned, earned_at + dt.timedelta(days=2), "vanak", lines, "pos", redeem=1.0,
                    use_wallet=True)
    assert _redeem(business, document, buy) == (0, 0)  # pending at the purchase's moment
    buy.at = earned_at + dt.timedelta(days=8)
    points, _ = _redeem(business, document, buy)
    assert points > 0
    record_purchase(business, member_id=member.pk, branch_code="vanak", receipt="R-2", total=buy.total,
                    occurred_at=buy.at, lines=lines, redeem_points=points)
