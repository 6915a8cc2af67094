import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictInt, model_validator

from vafa.core.schemas import Moment
from vafa.core.schemas import StrictSchema as Strict
from vafa.members.schemas import Amounts


class MemberRef(Strict):
    """Exactly one of: member_id, phone, card, code."""

    member_id: StrictInt | None = Field(None, ge=1)
    phone: str | None = Field(None, max_length=32, examples=["09121234567"])
    card: str | None = Field(None, max_length=19)
    code: str | None = Field(None, max_length=12)

    @model_validator(mode="after")
    def _one(self):
        given = [v for v in (self.member_id, self.phone, self.card, self.code) if v not in (None, "")]
        if len(given) != 1:
            raise ValueError("give exactly one of member_id, phone, card, code")
        return self


class ItemIn(Strict):
    sku: str = Field("", max_length=64, examples=["ESP-01"])
    name: str = Field("", max_length=200, examples=["اسپرسو"])
    category: str = Field("", max_length=64, examples=["coffee"])
    quantity: StrictInt = Field(1, ge=1, le=1_000_000)
    unit_price: StrictInt = Field(ge=0, le=10**15, examples=[120000])


class GiftCardIn(Strict):
    code: str = Field(min_length=1, max_length=40, examples=["K7M3-QP2X-8RTW-4HJN"])
    amount: StrictInt = Field(ge=1, le=10**15)


class RedeemIn(Strict):
    # frozen: the default below is then used as it is, not deep-copied for every purchase that redeems nothing
    model_config = ConfigDict(frozen=True)

    points: StrictInt = Field(0, ge=0, le=10**15, description="points to pay with, in whole steps of the loyalty table")
    wallet: StrictInt = Field(0, ge=0, le=10**15, description="wallet credit to pay with (minor units)")
    gift_credit: StrictInt = Field(0, ge=0, le=10**15, description="gift credit to pay with, within its restrictions")
    gift_card: GiftCardIn | None = Field(None, description="a gift card pays last, partially")


class PurchaseIn(Strict):
    member: MemberRef
    branch: str = Field(max_length=32, examples=["tajrish"])
    receipt: str = Field(min_length=1, max_length=64, examples=["R-1403-000123"])
    total: StrictInt = Field(ge=0, le=10**15, examples=[250000], description="basket total, minor units")
    occurred_at: dt.datetime | None = Field(None, description="ISO 8601 with offset; default now")
    channel: str = Field("", max_length=32, examples=["pos"])
    items: list[ItemIn] = Field([], max_length=500, description="the items; with `other_amount` they add up to "
                                                              "`total`")
    other_amount: StrictInt = Field(0, ge=0, le=10**15, description="the unitemised part of the total (delivery, "
                                    "service …): total = sum of items + other_amount")
    codes: list[str] = Field([], max_length=20, description="discount codes")
    on_bad_code: Literal["refuse", "skip"] = Field(
        "refuse", description="`skip`: complete the sale with the codes that can be used; `refused_codes` in the "
                              "answer names the others and why")
    rewards: list[StrictInt] = Field([], max_length=20, description="ids of rewards the member holds, used on "
                                                                   "this purchase (GET /members/{id}/rewards)")
    redeem: RedeemIn = RedeemIn()
    units: dict[str, StrictInt] = Field({}, description="counted units for non-monetary rules, e.g. {\"km\": 1200}")
    dry_run: bool = False


class EffectOut(Schema):
    kind: str
    rule_id: str
    currency: str | None
    amount: int
    reason: str  # rendered in the asker's language
    reason_code: str = ""  # the reason as data (core.reasons); answers stored before it lack it
    reason_params: dict = {}
    reward_code: str | None
    reward_name: str | None


class BalancesOut(Schema):
    points: Amounts
    coins: Amounts
    wallet: Amounts
    gift_credit: Amounts


class RefusedCodeOut(Schema):
    code: str
    reason_code: str = Field(description="not_found, used_up, expired, not_started, wrong_branch, wrong_tier, "
                                         "below_min_amount, below_min_quantity …")
    detail: str


class RewardUsedOut(Schema):
    id: int
    code: str
    name: str
    gives: str
    discount: int


class PaymentOut(Schema):
    """How a purchase was priced and paid: the same fields in the answer of POST /purchases and in GET
    /purchases/{id}."""

    total: int
    other_amount: int = Field(0, description="the unitemised part of the total (beside the items)")
    discount: int = Field(description="tier, code and reward discounts")
    points_redeemed: int
    points_value: int = Field(description="money the redeemed points paid")
    wallet_redeemed: int
    gift_credit_redeemed: int = 0
    gift_card_redeemed: int = 0
    earning_base: int
    payable: int = Field(description="left to pay by other means")


class PurchaseOut(PaymentOut):
    id: int | None = Field(None, description="the purchase's id (none on a dry run)")
    purchase_id: int | None = Field(None, deprecated=True, description="deprecated alias of `id`")
    receipt: str | None = None
    branch: str | None = None
    status: str | None = None
    dry_run: bool
    program_version: int
    member_id: int
    effects: list[EffectOut]
    refused_codes: list[RefusedCodeOut] = Field([], description="with `on_bad_code: skip`: the codes left out")
    rewards: list[RewardUsedOut] = Field([], description="the member's rewards this purchase used")
    tier: str | None
    balance: BalancesOut


class ReturnItemIn(Strict):
    line_id: StrictInt | None = Field(None, ge=1)
    sku: str | None = Field(None, max_length=64)
    quantity: StrictInt = Field(1, ge=1, le=1_000_000)


class ReturnIn(Strict):
    amount: StrictInt | None = Field(None, ge=1, le=10**15, description="part of the purchase total returned")
    items: list[ReturnItemIn] = Field([], max_length=500)
    reason: str = Field("", max_length=300)


class CancelIn(Strict):
    reason: str = Field("", max_length=300)


class ReversalOut(Schema):
    kind: str = Field(description="reverse (earned, clawed back) or give_back (spent, returned)")
    currency: str
    amount: int
    unrecovered: int = Field(0, description="wallet/coins/gift credit already spent, so not clawed back")
    rule_id: str


class ReturnOut(Schema):
    id: int = Field(description="the return's id")
    return_id: int = Field(deprecated=True, description="deprecated alias of `id`")
    purchase_id: int
    status: str
    returned_amount: int
    returned_total: int
    previously_returned: int
    reversed: list[ReversalOut]
    member_id: int
    tier: str | None
    balance: BalancesOut


class LineOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: int
    amount: int
    returned_quantity: int


class PurchaseDetailOut(PaymentOut):
    id: int
    member_id: int
    branch: str
    receipt: str
    occurred_at: dt.datetime
    channel: str
    returned_amount: int
    status: str
    program_version: int
    items: list[LineOut]
    lines: list[LineOut] = Field(deprecated=True, description="deprecated alias of `items`")
    effects: list[EffectOut]


class PurchasePage(Schema):
    items: list[PurchaseDetailOut]
    next_cursor: str | None


class VisitIn(Strict):
    member: MemberRef
    branch: str | None = Field(None, max_length=32)
    occurred_at: Moment | None = None
    units: dict[str, StrictInt] = {}
    note: str = Field("", max_length=200)


class EventIn(Strict):
    member: MemberRef
    name: str = Field(min_length=1, max_length=64, examples=["survey_completed"])
    data: dict = Field({}, description="anything the event carries")
    occurred_at: Moment | None = None


class ActivityOut(Schema):
    id: int = Field(description="the visit's or the event's id")
    visit_id: int | None = Field(None, deprecated=True, description="deprecated alias of `id` (visits)")
    event_id: int | None = Field(None, deprecated=True, description="deprecated alias of `id` (events)")
    program_version: int
    effects: list[EffectOut]
    member_id: int
    tier: str | None
    balance: BalancesOut


class RewardOut(Schema):
    id: int
    member_id: int
    code: str
    name: str
    status: str = Field(description="available, used, expired or revoked")
    gives: str = Field(description="thing (handed over), free_item, amount_off, percent_off or free_shipping")
    sku: str | None = Field(None, description="free_item: the free item")
    quantity: int | None = Field(None, description="free_item: how many")
    amount: int | None = Field(None, description="amount_off: how much")
    percent: str | None = Field(None, description="percent_off: the percent, exact decimal text")
    max_discount: int | None = None
    branches: list[str] = Field(description="where it may be used; empty: every branch")
    expires_at: dt.datetime | None = Field(description="until when it may be used; none: no end")
    rule_id: str
    reason: str
    issued_at: dt.datetime
    purchase_id: int | None = Field(description="the purchase that earned it")
    visit_id: int | None
    used_at: dt.datetime | None
    used_purchase_id: int | None = Field(description="the purchase it was used on")
    used_branch: str | None
    revoked_at: dt.datetime | None


class RewardPage(Schema):
    items: list[RewardOut]
    next_cursor: str | None


class RewardUseIn(Strict):
    branch: str | None = Field(None, max_length=32, description="where it is handed over")
