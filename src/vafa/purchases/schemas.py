import datetime as dt

from ninja import Schema
from pydantic import Field, StrictInt, model_validator

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
    items: list[ItemIn] = Field([], max_length=500)
    codes: list[str] = Field([], max_length=20, description="discount codes (rewards module)")
    redeem: RedeemIn = RedeemIn()
    units: dict[str, StrictInt] = Field({}, description="counted units for non-monetary rules, e.g. {\"km\": 1200}")
    dry_run: bool = False


class EffectOut(Schema):
    kind: str
    rule_id: str
    currency: str | None
    amount: int
    reason: str
    reward_code: str | None
    reward_name: str | None


class BalancesOut(Schema):
    points: Amounts
    coins: Amounts
    wallet: Amounts
    gift_credit: Amounts


class PurchaseOut(Schema):
    purchase_id: int | None = None
    receipt: str | None = None
    branch: str | None = None
    status: str | None = None
    dry_run: bool
    program_version: int
    member_id: int
    total: int
    discount: int
    points_redeemed: int
    points_value: int
    wallet_redeemed: int
    gift_credit_redeemed: int = 0
    gift_card_redeemed: int = 0
    earning_base: int
    payable: int
    effects: list[EffectOut]
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
    return_id: int
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


class PurchaseDetailOut(Schema):
    id: int
    member_id: int
    branch: str
    receipt: str
    occurred_at: dt.datetime
    channel: str
    total: int
    discount: int
    payable: int
    returned_amount: int
    status: str
    program_version: int
    lines: list[LineOut]
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
    visit_id: int | None = None
    event_id: int | None = None
    program_version: int
    effects: list[EffectOut]
    member_id: int
    tier: str | None
    balance: BalancesOut
