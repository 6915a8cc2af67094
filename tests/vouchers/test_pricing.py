"""The pure pricing of discount codes: exact integers, codes in the order entered, allocation to lines."""

from fractions import Fraction

from vafa.vouchers.pricing import (
    APPLIED,
    BELOW_MIN_AMOUNT,
    BELOW_MIN_QUANTITY,
    NO_MATCHING_ITEMS,
    NOT_COMBINED,
    NOTHING_TO_DISCOUNT,
    Basket,
    BasketLine,
    VoucherTerms,
    apply_codes,
    remaining,
)


def basket(*lines, shipping=0):
    return Basket(tuple(BasketLine(*line) for line in lines), shipping)


def pct(code, percent, **kw):
    return VoucherTerms(code, "percent", percent=Fraction(percent), **kw)


def test_ten_percent_off_320_is_288():
    b = basket(("A", "coffee", 1, 320))
    [result] = apply_codes(b, [pct("TEN", 10)], "en")
    assert (result.status, result.discount, result.allocation) == (APPLIED, 32, (32,))
    assert remaining(b, [result]).subtotal == 288
    assert result.reason == "10% off with code TEN: 32"


def test_fixed_249_off_an_order_of_25_is_0():
    b = basket(("A", "coffee", 1, 25))
    [result] = apply_codes(b, [VoucherTerms("FIX", "fixed", amount=249)])
    assert result.discount == 25
    assert remaining(b, [result]).subtotal == 0


def test_three_ten_percent_claims_in_turn_on_300_00():
    b = basket(("A", "coffee", 1, 30000))
    results = apply_codes(b, [pct("A1", 10), pct("A2", 10), pct("A3", 10)])
    assert [r.discount for r in results] == [3000, 2700, 2430]
    after = []
    for i in range(3):
        after.append(remaining(b, results[: i + 1]).subtotal)
    assert after == [27000, 24300, 21870]


def test_percent_with_a_maximum_of_9_on_a_line_of_120():
    b = basket(("A", "coffee", 1, 120))
    [result] = apply_codes(b, [pct("MAX", 20, max_discount=9)], "en")
    assert result.discount == 9 and result.allocation == (9,)
    assert remaining(b, [result]).lines[0].amount == 111
    assert "capped at 9" in result.reason


def test_percent_floors_and_allocation_adds_up_exactly():
    b = basket(("A", "coffee", 3, 333), ("B", "cake", 1, 101), ("C", "tea", 7, 7))
    [result] = apply_codes(b, [pct("P", Fraction(25, 2))])
    assert result.discount == 55  # floor(12.5 % of 441 = 55.125)
    assert sum(result.allocation) == 55
    assert result.allocation == (41, 13, 1)  # largest remainders: .873 (C) and .596 (B) get the 2 left
    assert [line.amount for line in remaining(b, [result]).lines] == [292, 88, 6]


def test_percent_only_on_matching_categories_and_skus():
    b = basket(("A", "coffee", 1, 1000), ("B", "cake", 1, 500), ("X", "other", 1, 300))
    [result] = apply_codes(b, [pct("P", 10, categories=frozenset({"cake"}), skus=frozenset({"X"}))])
    assert result.allocation == (0, 50, 30)


def test_no_matching_items():
    b = basket(("A", "coffee", 1, 1000))
    [result] = apply_codes(b, [pct("P", 10, categories=frozenset({"cake"}))], "en")
    assert (result.status, result.discount) == (NO_MATCHING_ITEMS, 0)
    assert result.reason == "no item in the basket qualifies for this code"


def test_minimum_amount_and_quantity_are_inclusive():
    b = basket(("A", "coffee", 2, 1000))  # two units, 1000 in all
    assert apply_codes(b, [pct("P", 10, min_amount=1000)])[0].status == APPLIED
    low = apply_codes(b, [pct("P", 10, min_amount=1001)], "en")[0]
    assert low.status == BELOW_MIN_AMOUNT and low.reason == "the amount is below the minimum of 1001"
    assert apply_codes(b, [pct("P", 10, min_quantity=2)])[0].status == APPLIED
    assert apply_codes(b, [pct("P", 10, min_quantity=3)])[0].status == BELOW_MIN_QUANTITY


def test_minimum_is_judged_on_the_basket_after_earlier_codes():
    b = basket(("A", "coffee", 1, 1000))
    first, second = apply_codes(b, [VoucherTerms("F", "fixed", amount=100), pct("P", 10, min_amount=1000)])
    assert first.discount == 100 and second.status == BELOW_MIN_AMOUNT


def test_free_shipping():
    b = basket(("A", "coffee", 1, 1000), shipping=250)
    first, second = apply_codes(b, [VoucherTerms("SHIP", "free_shipping"), VoucherTerms("SHIP2", "free_shipping")])
    assert (first.discount, first.shipping, first.allocation) == (250, 250, (0,))
    assert second.status == NOTHING_TO_DISCOUNT
    assert remaining(b, [first, second]).shipping == 0


def test_free_item_is_the_cheapest_matching_unit():
    b = basket(("A", "coffee", 2, 900), ("B", "coffee", 1, 350), ("C", "cake", 1, 100))
    [result] = apply_codes(b, [VoucherTerms("FREE", "free_item", categories=frozenset({"coffee"}))])
    assert result.allocation == (0, 350, 0)


def test_free_item_is_limited_to_what_is_in_the_basket():
    b = basket(("A", "coffee", 1, 400), ("B", "cake", 1, 100))
    [result] = apply_codes(b, [VoucherTerms("FREE", "free_item", free_sku="A", free_quantity=3)])
    assert result.allocation == (400, 0) and result.discount == 400
    [none] = apply_codes(b, [VoucherTerms("FREE", "free_item", free_sku="Z")])
    assert none.status == NO_MATCHING_ITEMS


def test_buy_two_get_one_the_cheapest_of_each_group_free():
    # units dearest first: 500 500 400 | 400 300 100 | 100 → free: 400 (group 1) and 100 (group 2)
    b = basket(("A", "x", 2, 1000), ("B", "x", 2, 800), ("C", "x", 1, 300), ("D", "x", 2, 200))
    [result] = apply_codes(b, [VoucherTerms("B2G1", "buy_n_get_m", buy_n=2, get_m=1)])
    assert result.allocation == (0, 400, 0, 100)
    assert result.discount == 500


def test_buy_n_get_m_needs_a_whole_group():
    b = basket(("A", "x", 2, 1000))
    [result] = apply_codes(b, [VoucherTerms("B2G1", "buy_n_get_m", buy_n=2, get_m=1)], "en")
    assert result.status == BELOW_MIN_QUANTITY and result.reason == "fewer items than the minimum of 3"


def test_only_the_best_order_wide_percentage_applies():
    b = basket(("A", "coffee", 1, 1000))
    results = apply_codes(b, [pct("W10", 10, order_wide=True), pct("W15", 15, order_wide=True),
                              pct("W20", 20, order_wide=True, max_discount=120)], "en")
    assert [(r.code, r.status, r.discount) for r in results] == [
        ("W10", NOT_COMBINED, 0), ("W15", APPLIED, 150), ("W20", NOT_COMBINED, 0)]
    assert results[0].reason == "not combined: a better order-wide percentage applies"


def test_order_wide_best_is_judged_after_earlier_codes_and_others_still_stack():
    b = basket(("A", "coffee", 1, 1000))
    results = apply_codes(b, [VoucherTerms("F", "fixed", amount=200), pct("W10", 10, order_wide=True),
                              pct("W5", 5, order_wide=True), pct("S", 10)])
    assert [r.discount for r in results] == [200, 80, 0, 72]
    assert remaining(b, results).subtotal == 648


def test_code_on_a_basket_already_discounted_to_zero():
    b = basket(("A", "coffee", 1, 25))
    first, second = apply_codes(b, [VoucherTerms("F", "fixed", amount=249), pct("P", 10)])
    assert first.discount == 25 and second.status == NOTHING_TO_DISCOUNT and second.discount == 0


def test_reasons_in_persian():
    b = basket(("A", "coffee", 1, 320))
    [result] = apply_codes(b, [pct("TEN", 10)], "fa")
    assert result.reason == "۱۰٪ تخفیف کد TEN: ۳۲"
    [miss] = apply_codes(b, [pct("P", 10, categories=frozenset({"cake"}))], "fa")
    assert miss.reason == "کالای مشمول این کد در سبد نیست"


def test_persian_reasons_have_persian_digits_and_separators_english_ones_plain_numbers():
    b = basket(("A", "coffee", 1, 250_000))
    [result] = apply_codes(b, [pct("HALF", Fraction(25, 2))], "fa")
    assert result.reason == "۱۲٫۵٪ تخفیف کد HALF: ۳۱٬۲۵۰"
    assert result.texts["en"] == "12.5% off with code HALF: 31250"
    [short] = apply_codes(b, [pct("BIG", 10, min_amount=1_000_000)], "fa")
    assert short.reason == "مبلغ خرید کمتر از حداقل ۱٬۰۰۰٬۰۰۰ است"
    [short] = apply_codes(b, [pct("BIG", 10, min_amount=1_000_000)], "en")
    assert short.reason == "the amount is below the minimum of 1000000"
