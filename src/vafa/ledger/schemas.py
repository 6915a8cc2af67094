import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictInt

from vafa.core.schemas import StrictSchema as Strict
from vafa.purchases.schemas import BalancesOut


class AdjustmentIn(Strict):
    member_id: StrictInt = Field(ge=1)
    currency: str = Field(examples=["points"], description="points, coins, wallet or gift_credit")
    amount: StrictInt = Field(description="+ credits the member, − debits (never below zero)", examples=[500])
    reason: str = Field(min_length=1, max_length=500, examples=["جبران تأخیر در سفارش"])


class AdjustmentOut(Schema):
    entry_id: int
    member_id: int
    currency: str
    amount: int
    reason: str
    balance: BalancesOut


class ConversionIn(Strict):
    points: StrictInt = Field(ge=1, le=10**15, description="points to convert; only whole steps of the rate are used",
                              examples=[250])


class RateOut(Schema):
    points: int
    value: int


class ConversionOut(Schema):
    member_id: int
    points_converted: int
    wallet_credited: int
    rate: RateOut
    reason: str
    balance: BalancesOut


class GrantIn(Strict):
    amount: StrictInt = Field(ge=1, le=10**15, examples=[50000], description="per member, minor units")
    reason: str = Field(min_length=1, max_length=500, examples=["هدیه تولد"])
    member_ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] = Field([], max_length=10000)
    tier: str | None = Field(None, max_length=32, description="instead of member_ids: every active member of a tier")
    expires_at: dt.datetime | None = None
    categories: list[str] = Field([], max_length=50, description="spendable only on these product categories")
    branches: list[str] = Field([], max_length=50, description="spendable only in these branches")
    occasion: str = Field("", max_length=32, examples=["birthday"])


class GrantOut(Schema):
    members: int
    amount: int
    total: int
    restrictions: dict
    expires_at: str | None


class GiftCardIssueIn(Strict):
    amount: StrictInt = Field(ge=1, le=10**15, examples=[1000000])
    expires_at: dt.datetime | None = None
    sold_to: StrictInt | None = Field(None, ge=1, description="member id, when a member bought it")


class GiftCardOut(Schema):
    code: str
    balance: int
    initial_amount: int
    status: str
    expires_at: dt.datetime | None
