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
