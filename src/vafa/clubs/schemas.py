from typing import Literal

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from vafa.core.schemas import StrictSchema as Strict
from vafa.purchases.schemas import BalancesOut


class PlanOut(Schema):
    code: str
    name: str
    price: int
    period: str
    multiplier: str = Field(description="exact decimal, e.g. \"1.5\"")
    discount_percent: str
    perks: list[str]


class SubscriptionIn(Strict):
    plan: str = Field(min_length=1, max_length=32, examples=["vip"])
    payment: Literal["wallet", "external"] = Field(
        "wallet", description="wallet: paid from the member's wallet credit; external: paid at the till or online")
    auto_renew: StrictBool = Field(True, description="renew from the wallet when the period ends")


class SubscriptionOut(Schema):
    id: int
    member_id: int
    plan: str
    period: str
    price: int
    payment: str
    starts_at: str
    ends_at: str
    auto_renew: bool
    status: str


class SubscribedOut(SubscriptionOut):
    balance: BalancesOut


class CauseIn(Strict):
    code: str = Field(min_length=1, max_length=32, examples=["trees"])
    name: str = Field(min_length=1, max_length=200, examples=["کاشت درخت"])
    description: str = Field("", max_length=2000)
    goal: StrictInt | None = Field(None, ge=1, le=10**15, description="points; shown as progress")


class CauseOut(Schema):
    code: str
    name: str
    description: str
    goal: int | None
    active: bool
    points: int = Field(description="points donated so far")
    donors: int


class DonationIn(Strict):
    cause: str = Field(min_length=1, max_length=32)
    points: StrictInt = Field(ge=1, le=10**15)


class DonationOut(Schema):
    id: int
    cause: str
    member_id: int
    points: int
    reason: str
    balance: BalancesOut


class PartnerOut(Schema):
    partner: str
    name: str
    state: str = Field(description="active (both consent), offered (we do), invited (they do), none")


class PartnerMemberOut(Schema):
    partner: str
    member: bool
    tier: str | None
    member_since: str | None
