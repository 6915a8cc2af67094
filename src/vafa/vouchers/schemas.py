import datetime as dt

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from vafa.core.schemas import PlainOut
from vafa.core.schemas import StrictSchema as Strict

Amount = StrictInt


class GenerateIn(Strict):
    count: StrictInt = Field(ge=1, le=100_000, examples=[100])
    length: StrictInt = Field(8, ge=4, le=32)
    prefix: str = Field("", max_length=16, examples=["NOWRUZ-"])
    max_uses: StrictInt | None = Field(1, ge=1, le=10**9, description="uses per code; null: unlimited")


class VoucherIn(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["نوروز ۱۰٪"])
    kind: str = Field(pattern="^(percent|fixed|free_shipping|free_item|buy_n_get_m)$", examples=["percent"])
    percent: StrictInt | str | None = Field(None, description="percent kind: 10 or \"12.5\"", examples=[10])
    max_discount: Amount | None = Field(None, ge=1, le=10**15)
    amount: Amount = Field(0, ge=0, le=10**15, description="fixed kind, minor units")
    free_sku: str = Field("", max_length=64)
    free_quantity: StrictInt = Field(1, ge=1, le=1_000_000)
    buy_n: StrictInt = Field(0, ge=0, le=1_000_000)
    get_m: StrictInt = Field(0, ge=0, le=1_000_000)
    order_wide: StrictBool = False
    categories: list[str] = Field([], max_length=200)
    skus: list[str] = Field([], max_length=200)
    branches: list[str] = Field([], max_length=200)
    tiers: list[str] = Field([], max_length=200)
    min_amount: Amount = Field(0, ge=0, le=10**15)
    min_quantity: StrictInt = Field(0, ge=0, le=1_000_000)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    max_uses_total: StrictInt | None = Field(None, ge=1, le=10**9)
    max_uses_per_member: StrictInt | None = Field(None, ge=1, le=10**9)
    active: StrictBool = True
    code: str | None = Field(None, max_length=40, description="a shared code", examples=["NOWRUZ"])
    code_max_uses: StrictInt | None = Field(None, ge=1, le=10**9, description="uses of the shared code; null: "
                                            "unlimited")
    generate: GenerateIn | None = Field(None, description="or: generate unique codes")


class VoucherOut(Schema):
    id: int
    name: str
    kind: str
    percent: str | None
    max_discount: int | None
    amount: int
    free_sku: str
    free_quantity: int
    buy_n: int
    get_m: int
    order_wide: bool
    categories: list[str]
    skus: list[str]
    branches: list[str]
    tiers: list[str]
    min_amount: int
    min_quantity: int
    starts_on: dt.date | None
    ends_on: dt.date | None
    max_uses_total: int | None
    max_uses_per_member: int | None
    used_count: int
    active: bool
    codes_count: int
    created_at: dt.datetime
    codes: list[str] | None = None


class VoucherPage(Schema):
    items: list[VoucherOut]
    next_cursor: str | None


class CodesOut(Schema):
    voucher_id: int
    codes: list[str]


class ItemIn(Strict):
    sku: str = Field("", max_length=64, examples=["ESP-01"])
    category: str = Field("", max_length=64, examples=["coffee"])
    quantity: StrictInt = Field(1, ge=1, le=1_000_000)
    unit_price: Amount = Field(ge=0, le=10**12, examples=[120000])


class ValidateIn(Strict):
    code: str = Field(min_length=1, max_length=40, examples=["NOWRUZ"])
    member_id: StrictInt | None = Field(None, ge=1, le=2**62)
    branch: str | None = Field(None, max_length=32, examples=["t1"])
    items: list[ItemIn] = Field([], max_length=500)
    shipping: Amount = Field(0, ge=0, le=10**15)
    reserve: StrictBool = Field(False, description="hold one use of the code for this checkout for 15 minutes")


class ValidateOut(PlainOut):  # plain values: checked by pydantic alone (core.schemas.PlainOut)
    valid: bool
    code: str
    discount: int
    reason: str = Field(description="valid, or why not: not_found, inactive, not_started, expired, wrong_branch, "
                        "wrong_tier, used_up, reserved, member_limit_reached, below_min_amount, "
                        "below_min_quantity, no_matching_items, nothing_to_discount")
    message: str
    allocation: list[int]
    shipping_discount: int
    reservation_token: str | None
    reservation_expires_at: dt.datetime | None
