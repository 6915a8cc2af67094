"""Vouchers use cases: definitions, generated and imported codes, validation reasons, limits, reservations,
redemption inside a purchase's transaction, rollback, and guess throttling."""

import datetime as dt
import io

import openpyxl
import pytest
from django.db import transaction

from vafa.core.errors import InvalidInput, VafaError
from vafa.ledger.check import check_ledger
from vafa.purchases.services import cancel_purchase, record_purchase
from vafa.vouchers import services
from vafa.vouchers.models import Redemption, Reservation, VoucherCode
from vafa.vouchers.pricing import Basket, BasketLine
from vafa.vouchers.services import (
    ALPHABET,
    GUESS_LIMIT,
    TooManyAttempts,
    VoucherRejected,
    create_code,
    create_definition,
    generate_codes,
    import_codes,
    redeem_codes_for_purchase,
    reserve,
    rollback_for_purchase,
    validate,
)

AT = dt.datetime(2025, 6, 10, 9, 0, tzinfo=dt.UTC)
BASKET = Basket((BasketLine("ESP", "coffee", 2, 200_000), BasketLine("CAKE", "cake", 1, 120_000)), 30_000)


def ten_percent(business, code="TEN", max_uses=None, **conditions):
    definition = create_definition(business, name="ده درصد", kind="percent", percent=10, **conditions)
    create_code(definition, code, max_uses=max_uses)
    return definition


def check(business, code, member=None, basket=BASKET, branch="t1", at=AT, **kw):
    return validate(business, code, member, basket, branch, at=at, language="en", **kw)


def redeem(business, member, purchase_id, codes, basket=BASKET, branch="t1", at=AT, **kw):
    with transaction.atomic():
        return redeem_codes_for_purchase(business, member, purchase_id, codes, basket, branch, at=at, **kw)


# --- validation ------------------------------------------------------------------------------------------------


def test_a_valid_code_answers_the_discount(business, member):
    ten_percent(business)
    result = check(business, " ten ", member)
    assert (result.valid, result.code, result.discount, result.reason) == (True, "TEN", 32_000, "valid")
    assert result.message == "10% off with code TEN: 32000"
    assert result.applied.allocation == (20_000, 12_000)


def test_unknown_code_and_another_businesss_code(business, other_business, member):
    other = create_definition(other_business, name="x", kind="fixed", amount=100)
    create_code(other, "THEIRS")
    for code in ("NOPE", "THEIRS"):
        result = check(business, code, member)
        assert (result.valid, result.reason, result.discount) == (False, "not_found", 0)
        assert result.message == "there is no such code"


@pytest.mark.parametrize(("conditions", "reason"), [
    ({"active": False}, "inactive"),
    ({"branches": ["v2"]}, "wrong_branch"),
    ({"tiers": ["gold"]}, "wrong_tier"),
    ({"min_amount": 320_001}, "below_min_amount"),
    ({"min_quantity": 4}, "below_min_quantity"),
    ({"categories": ["tea"]}, "no_matching_items"),
])
def test_reasons(business, member, conditions, reason):
    ten_percent(business, **conditions)
    result = check(business, "TEN", member)
    assert (result.valid, result.reason, result.discount) == (False, reason, 0)


def test_boundaries_are_inclusive(business, member):
    ten_percent(business, min_amount=320_000, min_quantity=3, branches=["t1"], tiers=["bronze"])
    assert check(business, "TEN", member).valid


def test_disabled_code_is_inactive(business, member):
    ten_percent(business)
    VoucherCode.objects.filter(code="TEN").update(status=VoucherCode.Status.DISABLED)
    assert check(business, "TEN", member).reason == "inactive"


def test_validity_window_is_inclusive_in_tehran_time(business, member):
    assert business.timezone == "Asia/Tehran"
    ten_percent(business, starts_on=dt.date(2025, 6, 1), ends_on=dt.date(2025, 6, 30))
    # Tehran is UTC+03:30: 1 June starts at 31 May 20:30 UTC, 30 June ends at 30 June 20:29:59 UTC
    just_before = dt.datetime(2025, 5, 31, 20, 29, 59, tzinfo=dt.UTC)
    first_moment = dt.datetime(2025, 5, 31, 20, 30, tzinfo=dt.UTC)
    last_moment = dt.datetime(2025, 6, 30, 20, 29, 59, tzinfo=dt.UTC)
    just_after = dt.datetime(2025, 6, 30, 20, 30, tzinfo=dt.UTC)
    early = check(business, "TEN", member, at=just_before)
    assert early.reason == "not_started" and early.message == "this code is valid from 2025-06-01"
    assert check(business, "TEN", member, at=first_moment).valid
    assert check(business, "TEN", member, at=last_moment).valid
    late = check(business, "TEN", member, at=just_after)
    assert late.reason == "expired" and late.message == "this code expired on 2025-06-30"


def test_reasons_in_persian(business, member):
    result = validate(business, "NOPE", member, BASKET, "t1", at=AT)
    assert result.message == "چنین کدی وجود ندارد"


# --- limits, redemption and rollback ---------------------------------------------------------------------------


def test_single_use_code_is_used_up_and_rollback_frees_it(business, member, make_member):
    definition = create_definition(business, name="fixed", kind="fixed", amount=249)
    [code] = generate_codes(definition, 1)
    [applied] = redeem(business, member, 1001, [code])
    assert applied.discount == 249 and applied.applied
    row = VoucherCode.objects.get(code=code)
    assert row.used_count == 1
    assert check(business, code, make_member()).reason == "used_up"
    with pytest.raises(VoucherRejected) as caught:
        redeem(business, make_member(), 1002, [code])
    assert caught.value.params == {"voucher": code, "reason": "used_up"}

    assert rollback_for_purchase(business, 1001) == 1
    assert rollback_for_purchase(business, 1001) == 0  # idempotent
    row.refresh_from_db()
    definition.refresh_from_db()
    assert (row.used_count, definition.used_count) == (0, 0)
    assert Redemption.objects.get(purchase_id=1001).status == Redemption.Status.ROLLED_BACK
    assert check(business, code, make_member()).valid


def test_a_code_used_on_a_cancelled_purchase_can_be_used_again(business, member):
    definition = create_definition(business, name="once", kind="percent", percent=10)
    create_code(definition, "ONCE", max_uses=1)
    lines = [{"sku": "ESP", "category": "coffee", "quantity": 1, "unit_price": 320_000}]
    purchase = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-1", total=320_000,
                               lines=lines, codes=["ONCE"], occurred_at=AT)
    assert (purchase["discount"], purchase["payable"]) == (32_000, 288_000)  # 10% off 320 → 288
    assert check(business, "ONCE", member).reason == "used_up"
    with pytest.raises(VafaError):  # single use: a second purchase cannot redeem it
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-2", total=320_000,
                        lines=lines, codes=["ONCE"], occurred_at=AT)
    cancel_purchase(business, purchase["purchase_id"], reason="customer changed their mind")
    assert check(business, "ONCE", member).valid
    again = record_purchase(business, member_id=member.pk, branch_code="t1", receipt="R-3", total=320_000,
                            lines=lines, codes=["ONCE"], occurred_at=AT)
    assert again["discount"] == 32_000
    assert check_ledger() == []


def test_shared_code_with_limited_uses(business, make_member):
    ten_percent(business, max_uses=2)
    redeem(business, make_member(), 1, ["TEN"])
    redeem(business, make_member(), 2, ["TEN"])
    assert check(business, "TEN", make_member()).reason == "used_up"


def test_shared_code_without_a_limit(business, make_member):
    ten_percent(business)
    for purchase_id in range(5):
        redeem(business, make_member(), purchase_id, ["TEN"])
    assert VoucherCode.objects.get(code="TEN").used_count == 5
    assert check(business, "TEN", make_member()).valid


def test_uses_per_member(business, member, make_member):
    ten_percent(business, max_uses_per_member=2)
    redeem(business, member, 1, ["TEN"])
    redeem(business, member, 2, ["TEN"])
    result = check(business, "TEN", member)
    assert (result.reason, result.message) == ("member_limit_reached",
                                               "this member has used this code the most times allowed")
    assert check(business, "TEN", make_member()).valid
    rollback_for_purchase(business, 2)
    assert check(business, "TEN", member).valid


def test_total_uses_over_all_codes(business, make_member):
    definition = create_definition(business, name="batch", kind="fixed", amount=1000, max_uses_total=2)
    codes = generate_codes(definition, 3)
    redeem(business, make_member(), 1, [codes[0]])
    redeem(business, make_member(), 2, [codes[1]])
    assert check(business, codes[2], make_member()).reason == "used_up"


@pytest.mark.django_db(transaction=True)
def test_redeem_needs_the_callers_transaction(business, member):
    ten_percent(business)
    with pytest.raises(RuntimeError):
        redeem_codes_for_purchase(business, member, 1, ["TEN"], BASKET, "t1", at=AT)
    assert VoucherCode.objects.get(code="TEN").used_count == 0


def test_a_rejected_code_writes_nothing(business, member):
    ten_percent(business, max_uses=5)
    create_definition(business, name="cakes", kind="fixed", amount=100, categories=["tea"])
    create_code(VoucherCode.objects.get(code="TEN").definition, "OTHER")
    with pytest.raises(VoucherRejected) as caught:
        redeem(business, member, 1, ["TEN", "MISSING"])
    assert caught.value.params == {"voucher": "MISSING", "reason": "not_found"}
    assert Redemption.objects.count() == 0
    assert VoucherCode.objects.get(code="TEN").used_count == 0
    with pytest.raises(InvalidInput):
        redeem(business, member, 1, ["TEN", "ten"])


def test_codes_apply_in_order_and_a_worse_order_wide_percent_is_not_redeemed(business, member):
    fixed = create_definition(business, name="fixed", kind="fixed", amount=20_000)
    create_code(fixed, "FIX")
    for code, percent in (("W10", 10), ("W20", 20)):
        create_code(create_definition(business, name=code, kind="percent", percent=percent, order_wide=True), code)
    results = redeem(business, member, 7, ["FIX", "W10", "W20"])
    assert [(r.code, r.status, r.discount) for r in results] == [
        ("FIX", "applied", 20_000), ("W10", "not_combined", 0), ("W20", "applied", 60_000)]  # 20 % of 300 000 left after FIX
    assert sorted(Redemption.objects.values_list("code__code", "amount")) == [("FIX", 20_000), ("W20", 60_000)]
    assert VoucherCode.objects.get(code="W10").used_count == 0


def _gold(member):
    from vafa.core.actor import SYSTEM
    from vafa.purchases.services import change_tier

    change_tier(member, "gold", 0, "test", AT, SYSTEM)  # the test program's gold tier: 5 % off every order


def _post(business, member, receipt, codes, total=320_000):
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=total,
                           occurred_at=AT, codes=codes)


def _discounts(result):
    return [(e["rule_id"], e["amount"]) for e in result["effects"] if e["kind"] == "discount"]


def test_a_better_order_wide_code_beats_the_tier_discount(business, member):
    _gold(member)
    create_code(create_definition(business, name="w10", kind="percent", percent=10, order_wide=True), "W10")
    result = _post(business, member, "r1", ["W10"])
    assert _discounts(result) == [("code:W10", 32_000)]  # not also the tier's 5 %
    assert result["discount"] == 32_000


def test_the_tier_discount_beats_a_worse_order_wide_code_which_stays_unused(business, member):
    _gold(member)
    create_code(create_definition(business, name="w3", kind="percent", percent=3, order_wide=True), "WIDE3",
                max_uses=1)
    assert check(business, "WIDE3", member).reason == "not_combined"
    result = _post(business, member, "r1", ["WIDE3"])
    assert _discounts(result) == [("tier:gold", 16_000)]
    assert "Gold" in result["effects"][0]["reason"] or "طلایی" in result["effects"][0]["reason"]
    assert VoucherCode.objects.get(code="WIDE3").used_count == 0 and not Redemption.objects.exists()
    assert check(business, "WIDE3", None).valid  # still unused: another customer may take it


def test_a_fixed_code_and_the_tier_discount_stack_in_order(business, member):
    _gold(member)
    create_code(create_definition(business, name="f", kind="fixed", amount=20_000), "F20")
    result = _post(business, member, "r1", ["F20"])
    assert _discounts(result) == [("code:F20", 20_000), ("tier:gold", 15_000)]  # 5 % of the 300,000 left
    assert result["payable"] == 285_000


def test_a_purchase_redeems_once(business, member):
    ten_percent(business)
    redeem(business, member, 1, ["TEN"])
    with pytest.raises(Exception, match="already_done"):
        redeem(business, member, 1, ["TEN"])


# --- reservations ----------------------------------------------------------------------------------------------


def test_a_reservation_holds_the_last_use_for_its_member(business, member, make_member):
    ten_percent(business, max_uses=1)
    held = reserve(business, "ten", member, minutes=15)
    assert held.expires_at > held.created_at
    other = make_member()
    assert check(business, "TEN", other).reason == "reserved"
    with pytest.raises(VoucherRejected):
        reserve(business, "TEN", other)
    with pytest.raises(VoucherRejected):
        redeem(business, other, 1, ["TEN"])
    assert check(business, "TEN", member).valid
    assert reserve(business, "TEN", member).pk == held.pk  # extended, not doubled
    redeem(business, member, 2, ["TEN"])
    assert Reservation.objects.count() == 0


def test_an_expired_reservation_holds_nothing(business, member, make_member):
    ten_percent(business, max_uses=1)
    held = reserve(business, "TEN", member)
    Reservation.objects.filter(pk=held.pk).update(expires_at=held.created_at - dt.timedelta(seconds=1))
    assert check(business, "TEN", make_member()).valid


def test_an_anonymous_reservation_is_used_with_its_token(business, member):
    ten_percent(business, max_uses=1)
    held = reserve(business, "TEN", None)
    assert check(business, "TEN", member).reason == "reserved"
    redeem(business, member, 1, ["TEN"], reservation_tokens=(held.token,))
    assert not Reservation.objects.exists()


# --- codes: generated and imported -----------------------------------------------------------------------------


def test_generated_codes_are_unique_and_unambiguous(business):
    definition = create_definition(business, name="batch", kind="free_shipping")
    codes = generate_codes(definition, 200, length=6, prefix="nw-")
    assert len(set(codes)) == 200
    for code in codes:
        assert code.startswith("NW-") and len(code) == 9 and set(code[3:]) <= set(ALPHABET)
    assert VoucherCode.objects.filter(definition=definition, max_uses=1).count() == 200


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"count": 0}, "count"), ({"count": 1, "length": 3}, "length"), ({"count": 1, "prefix": "a b"}, "prefix"),
    ({"count": 100, "length": 4, "max_uses": 0}, "max_uses"),
])
def test_bad_generation(business, kwargs, field):
    definition = create_definition(business, name="batch", kind="free_shipping")
    with pytest.raises(InvalidInput) as caught:
        generate_codes(definition, **kwargs)
    assert [e["field"] for e in caught.value.errors] == [field]
    assert not VoucherCode.objects.exists()


def test_import_csv(business):
    definition = create_definition(business, name="imported", kind="fixed", amount=500)
    data = "code\nabc-123\n\n XYZ789 ,ignored\n".encode("utf-8-sig")
    assert import_codes(definition, io.BytesIO(data), filename="codes.csv") == ["ABC-123", "XYZ789"]
    assert sorted(VoucherCode.objects.values_list("code", "max_uses")) == [("ABC-123", 1), ("XYZ789", 1)]


def test_import_xlsx(business, tmp_path):
    definition = create_definition(business, name="imported", kind="fixed", amount=500)
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["Code"], ["spring1"], [20250601], ["spring2", "note"]):
        sheet.append(row)
    path = tmp_path / "codes.xlsx"
    book.save(path)
    assert import_codes(definition, path, max_uses=3) == ["SPRING1", "20250601", "SPRING2"]
    assert VoucherCode.objects.get(code="SPRING2").max_uses == 3


def test_import_is_all_or_nothing(business):
    definition = create_definition(business, name="imported", kind="fixed", amount=500)
    create_code(definition, "TAKEN")
    data = b"GOOD1\nTAKEN\nGOOD1\nbad code!\n"
    with pytest.raises(InvalidInput) as caught:
        import_codes(definition, io.BytesIO(data), filename="codes.csv")
    assert sorted((e["field"], e["message"]) for e in caught.value.errors) == [
        ("file.row2", "code_taken"), ("file.row3", "duplicate_code"), ("file.row4", "bad_code")]
    assert list(VoucherCode.objects.values_list("code", flat=True)) == ["TAKEN"]


def test_import_refuses_a_broken_spreadsheet_and_an_empty_file(business):
    definition = create_definition(business, name="imported", kind="fixed", amount=500)
    with pytest.raises(InvalidInput, match="not_a_spreadsheet"):
        import_codes(definition, io.BytesIO(b"not a zip"), filename="codes.xlsx")
    with pytest.raises(InvalidInput, match="empty_file"):
        import_codes(definition, io.BytesIO(b"code\n\n"), filename="codes.csv")


# --- definitions -----------------------------------------------------------------------------------------------


def test_bad_definitions_write_nothing(business):
    with pytest.raises(InvalidInput) as caught:
        create_definition(business, name="", kind="percent", percent=150, branches=["nowhere"],
                          starts_on=dt.date(2025, 2, 1), ends_on=dt.date(2025, 1, 1), max_uses_total=0)
    assert sorted(e["field"] for e in caught.value.errors) == [
        "branches", "ends_on", "max_uses_total", "name", "percent"]
    with pytest.raises(InvalidInput) as caught:
        create_definition(business, name="x", kind="buy_n_get_m", buy_n=0, get_m=1, order_wide=True)
    assert sorted(e["field"] for e in caught.value.errors) == ["buy_n", "order_wide"]
    with pytest.raises(InvalidInput):
        create_definition(business, name="x", kind="percent", percent="12.34567")
    assert not services.VoucherDefinition.objects.exists()


def test_fractional_percent(business, member):
    create_code(create_definition(business, name="x", kind="percent", percent="12.5"), "HALF")
    assert check(business, "HALF", member).discount == 40_000  # 12.5 % of 320 000


# --- guessing ----------------------------------------------------------------------------------------------------


def test_failed_guesses_are_throttled_per_key(business, member):
    ten_percent(business)
    for i in range(GUESS_LIMIT):
        assert check(business, f"GUESS{i}", attempt_key="key-1").reason == "not_found"
    with pytest.raises(TooManyAttempts) as caught:
        check(business, "TEN", attempt_key="key-1")
    assert (caught.value.status, caught.value.code) == (429, "too_many_attempts")
    assert check(business, "TEN", attempt_key="key-2").valid  # another key is not blocked


def test_failed_guesses_are_throttled_per_member(business, member, make_member):
    for i in range(GUESS_LIMIT):
        check(business, f"GUESS{i}", member, attempt_key=f"key-{i}")
    with pytest.raises(TooManyAttempts):
        check(business, "ANY", member, attempt_key="fresh-key")
    assert check(business, "ANY", make_member(), attempt_key="another").reason == "not_found"


def test_valid_checks_are_not_counted(business, member):
    ten_percent(business)
    for _ in range(GUESS_LIMIT + 5):
        assert check(business, "TEN", member, attempt_key="key-1").valid


# --- bulk writes in short transactions (issue 10) ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_import_commits_in_short_batches_and_stays_all_or_nothing(business, monkeypatch):
    from tests.core.transactions import watched_transactions

    monkeypatch.setattr(services, "CODES_PER_TRANSACTION", 50)
    definition = services.create_definition(business, name="bulk", kind="fixed", amount=1000)
    codes = [f"BULK{i:04d}" for i in range(500)]
    with watched_transactions(lambda: VoucherCode.objects.count()) as commits:
        services.import_codes(definition, io.BytesIO("\n".join(codes).encode()), filename="codes.csv")
    assert [count for _, count in commits] == list(range(50, 501, 50))  # ten transactions of 50 codes each
    print(f"longest transaction: {max(seconds for seconds, _ in commits) * 1000:.1f} ms")

    # a code taken between the check and its batch undoes the batches already written
    other = services.create_definition(business, name="late", kind="fixed", amount=1000)
    real_insert = VoucherCode.objects.bulk_create

    def someone_takes_the_last_code(rows, *args, **kwargs):
        if rows[0].code == "LATE0450":
            real_insert([VoucherCode(business_id=business.pk, definition=definition, code="LATE0499")])
        return real_insert(rows, *args, **kwargs)

    monkeypatch.setattr(VoucherCode.objects, "bulk_create", someone_takes_the_last_code)
    with pytest.raises(InvalidInput):
        services.import_codes(other, io.BytesIO("\n".join(f"LATE{i:04d}" for i in range(500)).encode()),
                              filename="codes.csv")
    assert VoucherCode.objects.filter(definition=other).count() == 0
