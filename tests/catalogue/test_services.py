"""Gift requests end to end: the price in the ledger, stock and partner codes, the state machine, the outbox."""

import datetime as dt
from unittest import mock

import pytest

from vafa.catalogue.models import Gift, GiftCode, GiftRequest
from vafa.catalogue.selectors import business_today, gift_by_id
from vafa.catalogue.services import (
    create_gift,
    create_group,
    fulfil_request,
    import_partner_codes,
    reject_request,
    request_gift,
    ship_request,
    update_gift,
)
from vafa.core.errors import Conflict, InsufficientBalance, InvalidInput, NotFound
from vafa.core.models import IdempotencyRecord
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Entry, Lot
from vafa.ledger.services import spendable
from vafa.members.balances import adjust
from vafa.outbox.models import OutboxEvent


def coins(member) -> int:
    return spendable(member, "coins")


def gift_events() -> list[tuple[str, dict]]:
    return [(e.event_type, e.payload) for e in OutboxEvent.objects.filter(event_type__startswith="gift.").order_by("pk")]


def test_a_request_takes_the_exact_price_and_reserves_one_unit(business, funded, gift):
    result = request_gift(business, funded.pk, gift.pk)
    assert result["status"] == "requested" and result["price"] == 120 and result["replayed"] is False
    assert coins(funded) == 380
    assert Gift.objects.get(pk=gift.pk).stock == 4
    entry = Entry.objects.get(pk=result["debit_entry_id"])
    assert (entry.kind, entry.currency, entry.amount) == ("spend", "coins", 120)
    assert entry.reason == "درخواست هدیه «ماگ سرامیکی»"
    assert entry.debit.member_id == funded.pk and entry.credit.kind == "redeemed"
    assert gift_events() == [("gift.requested", {"request_id": result["id"], "member_id": funded.pk,
                                                 "gift_id": gift.pk, "title": "ماگ سرامیکی",
                                                 "price_currency": "coins", "price": 120, "status": "requested",
                                                 "code": None})]
    assert check_ledger() == []


def test_the_reason_is_in_the_business_language(other_business):
    from vafa.members.services import sign_up

    member = sign_up(other_business, mobile="09121112233")
    adjust(other_business, member.pk, "points", 50, reason="test")
    gift = create_gift(other_business, title="Mug", price_currency="points", price=50)
    result = request_gift(other_business, member.pk, gift.pk)
    assert Entry.objects.get(pk=result["debit_entry_id"]).reason == 'Gift request "Mug"'
    assert spendable(member, "points") == 0
    assert check_ledger() == []


def test_insufficient_coins_is_refused_and_writes_nothing(business, member, gift):
    adjust(business, member.pk, "coins", 119, reason="test")
    entries, events = Entry.objects.count(), OutboxEvent.objects.count()
    with pytest.raises(InsufficientBalance) as caught:
        request_gift(business, member.pk, gift.pk, idempotency_key="k1")
    assert caught.value.status == 409
    assert Entry.objects.count() == entries and OutboxEvent.objects.count() == events
    assert not GiftRequest.objects.exists() and not IdempotencyRecord.objects.filter(key="k1").exists()
    assert Gift.objects.get(pk=gift.pk).stock == 5
    assert coins(member) == 119
    assert check_ledger() == []


def test_the_price_is_taken_in_the_gift_currency(business, funded):
    gift = create_gift(business, title="کیف", price_currency="wallet", price=10_000)
    with pytest.raises(InsufficientBalance):
        request_gift(business, funded.pk, gift.pk)  # 500 coins are no wallet credit
    adjust(business, funded.pk, "wallet", 10_000, reason="test")
    request_gift(business, funded.pk, gift.pk)
    assert spendable(funded, "wallet") == 0 and coins(funded) == 500
    assert check_ledger() == []


def test_the_last_unit_goes_to_the_first_request(business, make_member):
    gift = create_gift(business, title="آخرین", price_currency="coins", price=100, stock=1)
    first, second = make_member(), make_member()
    for m in (first, second):
        adjust(business, m.pk, "coins", 500, reason="test")
    request_gift(business, first.pk, gift.pk)
    with pytest.raises(Conflict) as caught:
        request_gift(business, second.pk, gift.pk)
    assert caught.value.detail == "out_of_stock" and caught.value.status == 409
    assert Gift.objects.get(pk=gift.pk).stock == 0
    assert coins(second) == 500 and GiftRequest.objects.count() == 1
    assert check_ledger() == []


def test_unlimited_stock_stays_unlimited(business, funded):
    gift = create_gift(business, title="قهوه", price_currency="coins", price=100)
    for _ in range(5):
        request_gift(business, funded.pk, gift.pk)
    assert Gift.objects.get(pk=gift.pk).stock is None and coins(funded) == 0
    with pytest.raises(InsufficientBalance):
        request_gift(business, funded.pk, gift.pk)
    assert check_ledger() == []


def test_reject_refunds_exactly_and_restores_stock(business, funded, gift):
    result = request_gift(business, funded.pk, gift.pk)
    rejected = reject_request(business, result["id"], note="ناموجود در انبار")
    assert rejected["status"] == "rejected" and rejected["note"] == "ناموجود در انبار"
    assert coins(funded) == 500
    assert Gift.objects.get(pk=gift.pk).stock == 5
    refund = Entry.objects.get(pk=rejected["refund_entry_id"])
    assert (refund.kind, refund.currency, refund.amount) == ("reverse", "coins", 120)
    assert refund.debit.kind == "redeemed" and refund.credit.member_id == funded.pk
    # The coins went back into the lot they came from, with its own expiry.
    assert Lot.objects.filter(member=funded, currency="coins", state="open").count() == 1
    assert [t for t, _ in gift_events()] == ["gift.requested", "gift.rejected"]
    assert gift_events()[-1][1]["refunded"] == 120
    with pytest.raises(Conflict) as caught:
        reject_request(business, result["id"])
    assert caught.value.detail == "gift_request_not_requested"
    assert coins(funded) == 500
    assert check_ledger() == []


def test_ship_only_after_fulfil(business, funded, gift):
    result = request_gift(business, funded.pk, gift.pk)
    with pytest.raises(Conflict) as caught:
        ship_request(business, result["id"], shipping_note="پست")
    assert caught.value.detail == "gift_request_not_fulfilled"
    fulfilled = fulfil_request(business, result["id"])
    assert fulfilled["status"] == "fulfilled" and fulfilled["fulfilled_at"]
    with pytest.raises(Conflict):
        fulfil_request(business, result["id"])
    with pytest.raises(Conflict):
        reject_request(business, result["id"])  # fulfilled: no longer open to a rejection
    shipped = ship_request(business, result["id"], shipping_note="پست پیشتاز ۱۲۳۴")
    assert shipped["status"] == "shipped" and shipped["shipping_note"] == "پست پیشتاز ۱۲۳۴"
    for step in (fulfil_request, reject_request, ship_request):
        with pytest.raises(Conflict):
            step(business, result["id"])
    assert [t for t, _ in gift_events()] == ["gift.requested", "gift.fulfilled", "gift.shipped"]
    assert coins(funded) == 380 and Gift.objects.get(pk=gift.pk).stock == 4
    assert check_ledger() == []


def test_partner_codes_are_handed_out_once_each(business, make_member, partner_gift):
    imported = import_partner_codes(business, partner_gift.pk, ["CIN-1", "CIN-2", "CIN-1", " CIN-3 "])
    assert (imported["imported"], imported["skipped_duplicates"], imported["available"]) == (3, 1, 3)
    again = import_partner_codes(business, partner_gift.pk, csv_file=b"code\nCIN-3\nCIN-4,extra\n\n")
    assert (again["imported"], again["skipped_duplicates"], again["available"]) == (1, 1, 4)
    assert gift_by_id(business, partner_gift.pk).available_codes == 4
    members = [make_member() for _ in range(5)]
    handed = []
    for m in members[:4]:
        adjust(business, m.pk, "coins", 100, reason="test")
        handed.append(request_gift(business, m.pk, partner_gift.pk)["code"])
    assert sorted(handed) == ["CIN-1", "CIN-2", "CIN-3", "CIN-4"]
    assert GiftCode.objects.filter(status="handed_out").count() == 4
    assert all(c.request is not None for c in GiftCode.objects.all())
    adjust(business, members[4].pk, "coins", 100, reason="test")
    with pytest.raises(Conflict) as caught:
        request_gift(business, members[4].pk, partner_gift.pk)
    assert caught.value.detail == "out_of_stock"
    assert gift_events()[0][1]["code"] == handed[0]
    # A rejection puts the code back, and the next request gets it.
    first = GiftRequest.objects.order_by("pk").first()
    rejected = reject_request(business, first.pk)
    assert rejected["code"] is None
    assert GiftCode.objects.get(code=handed[0]).status == "available"
    assert request_gift(business, members[4].pk, partner_gift.pk)["code"] == handed[0]
    assert check_ledger() == []


def test_codes_only_for_partner_gifts_and_checked(business, gift, partner_gift):
    with pytest.raises(Conflict) as caught:
        import_partner_codes(business, gift.pk, ["X"])
    assert caught.value.detail == "not_a_partner_gift"
    with pytest.raises(InvalidInput) as bad:
        import_partner_codes(business, partner_gift.pk, ["ok", "", "x" * 201])
    assert {e["field"] for e in bad.value.errors} == {"codes.1", "codes.2"}
    with pytest.raises(InvalidInput):
        import_partner_codes(business, partner_gift.pk, [])
    with pytest.raises(InvalidInput):
        import_partner_codes(business, partner_gift.pk, csv_file=b"\xff\xfe")
    assert not GiftCode.objects.exists()


def test_display_window_is_inclusive_in_the_business_timezone(business, funded):
    today = business_today(business)
    gift = create_gift(business, title="نوروزی", price_currency="coins", price=10,
                       display_from=today.isoformat(), display_until=today.isoformat())
    request_gift(business, funded.pk, gift.pk)  # first and last day are both today
    update_gift(business, gift.pk, display_until=(today - dt.timedelta(days=1)).isoformat(),
                display_from=(today - dt.timedelta(days=3)).isoformat())
    with pytest.raises(Conflict) as caught:
        request_gift(business, funded.pk, gift.pk)
    assert caught.value.detail == "gift_not_available"
    update_gift(business, gift.pk, display_from=(today + dt.timedelta(days=1)).isoformat(), display_until=None)
    with pytest.raises(Conflict):
        request_gift(business, funded.pk, gift.pk)
    update_gift(business, gift.pk, display_from=None, active=False)
    with pytest.raises(Conflict):
        request_gift(business, funded.pk, gift.pk)
    assert coins(funded) == 490
    assert check_ledger() == []


def test_the_window_edge_follows_the_business_clock(business, funded):
    # 21:00 UTC on 31 May is already 1 June in Tehran (UTC+3:30).
    late = dt.datetime(2025, 5, 31, 21, 0, tzinfo=dt.UTC)
    gift = create_gift(business, title="خرداد", price_currency="coins", price=10, display_from="2025-06-01",
                       display_until="2025-06-01")
    assert business_today(business, late) == dt.date(2025, 6, 1)
    request_gift(business, funded.pk, gift.pk, at=late)
    with pytest.raises(Conflict):
        request_gift(business, funded.pk, gift.pk, at=dt.datetime(2025, 6, 1, 20, 31, tzinfo=dt.UTC))


def test_idempotency_key_replays_the_first_answer(business, funded, gift):
    first = request_gift(business, funded.pk, gift.pk, idempotency_key="req-1")
    again = request_gift(business, funded.pk, gift.pk, idempotency_key="req-1")
    assert again["replayed"] is True and again["id"] == first["id"]
    assert GiftRequest.objects.count() == 1 and coins(funded) == 380
    fulfil_request(business, first["id"], idempotency_key="f-1")
    assert fulfil_request(business, first["id"], idempotency_key="f-1")["replayed"] is True
    with pytest.raises(Conflict) as caught:
        request_gift(business, funded.pk, gift.pk + 1, idempotency_key="req-1")
    assert caught.value.detail == "idempotency_key_reused"
    assert check_ledger() == []


def test_another_business_sees_nothing(business, other_business, funded, gift):
    with pytest.raises(NotFound):
        request_gift(other_business, funded.pk, gift.pk)
    result = request_gift(business, funded.pk, gift.pk)
    for step in (fulfil_request, reject_request, ship_request):
        with pytest.raises(NotFound):
            step(other_business, result["id"])
    with pytest.raises(NotFound):
        update_gift(other_business, gift.pk, title="x")
    with pytest.raises(NotFound):
        import_partner_codes(other_business, gift.pk, ["X"])


def test_a_blocked_member_cannot_ask(business, funded, gift):
    from vafa.members.services import MemberUpdate, update_member

    update_member(business, MemberUpdate.check(business, funded.pk, status="blocked"))
    with pytest.raises(Conflict) as caught:
        request_gift(business, funded.pk, gift.pk)
    assert caught.value.detail == "member_blocked"


def test_gift_input_is_checked(business, other_business):
    with pytest.raises(InvalidInput) as caught:
        create_gift(business, title=" ", price_currency="gold", price=0, stock=-1, picture="javascript:alert(1)",
                    display_from="2025-06-10", display_until="2025-06-01")
    assert {e["field"] for e in caught.value.errors} == {"title", "price_currency", "price", "stock", "picture"}
    with pytest.raises(InvalidInput) as caught:
        create_gift(business, title="x", price_currency="coins", price=1, display_from="2025-06-10",
                    display_until="2025-06-01")
    assert caught.value.errors == [{"field": "display_until", "message": "before_display_from"}]
    with pytest.raises(InvalidInput) as caught:
        create_gift(business, title="x", price_currency="coins", price=1, partner_name="p", stock=3)
    assert caught.value.errors == [{"field": "stock", "message": "partner_stock_is_codes"}]
    foreign = create_group(other_business, title="Other")
    with pytest.raises(InvalidInput) as caught:
        create_gift(business, title="x", price_currency="coins", price=1, group_id=foreign.pk)
    assert caught.value.errors == [{"field": "group_id", "message": "unknown_gift_group"}]
    with pytest.raises(InvalidInput):
        create_gift(business, title="x", price_currency="coins", price=True)
    assert not Gift.objects.exists()
    group = create_group(business, title="لوازم", position=2)
    gift = create_gift(business, title="ماگ", price_currency="points", price=10, group_id=group.pk,
                       display_from="1404/03/11", picture="https://cdn.example/mug.png")
    assert gift.display_from == dt.date(2025, 6, 1) and gift.group == group


def test_every_step_reaches_the_outbox_in_its_own_transaction(business, funded, gift):
    result = request_gift(business, funded.pk, gift.pk)
    with mock.patch("vafa.catalogue.services.give_back", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            reject_request(business, result["id"])
    assert GiftRequest.objects.get().status == "requested"
    assert [t for t, _ in gift_events()] == ["gift.requested"]
    assert Gift.objects.get(pk=gift.pk).stock == 4
    assert check_ledger() == []
