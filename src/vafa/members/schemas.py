import datetime as dt

from ninja import Schema
from pydantic import Field

from vafa.core.schemas import PlainOut
from vafa.core.schemas import StrictSchema as Strict


class MemberIn(Strict):
    mobile: str = Field(examples=["09121234567"], max_length=32)
    first_name: str = Field("", max_length=100, examples=["علی"])
    last_name: str = Field("", max_length=100, examples=["رضایی"])
    email: str = Field("", max_length=254)
    birth_date: str | None = Field(None, max_length=20, description="ISO or Jalali (1370/01/01)",
                                   examples=["1370/06/15"])
    anniversary: str | None = Field(None, max_length=20)
    gender: str = Field("", description="female, male, other or empty")
    job: str = Field("", max_length=100)
    education: str = Field("", max_length=100)
    interests: list[str] = Field([], max_length=50)
    source: str = Field("", max_length=100, description="where the sign-up came from", examples=["instagram"])
    referral_code: str | None = Field(None, max_length=32, description="the referrer's member code")


class MemberPatch(Strict):
    mobile: str | None = Field(None, max_length=32)
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    birth_date: str | None = Field(None, max_length=20)
    anniversary: str | None = Field(None, max_length=20)
    gender: str | None = None
    job: str | None = Field(None, max_length=100)
    education: str | None = Field(None, max_length=100)
    interests: list[str] | None = Field(None, max_length=50)
    status: str | None = Field(None, description="active or blocked")


class MemberOut(Schema):
    id: int
    code: str
    mobile: str
    first_name: str
    last_name: str
    email: str
    birth_date: dt.date | None
    anniversary: dt.date | None
    gender: str
    job: str
    education: str
    interests: list[str]
    join_source: str
    status: str
    tier: str | None
    joined_at: dt.datetime


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class Amounts(PlainOut):
    available: int
    pending: int


class TierOut(PlainOut):
    code: str | None
    name: str | None
    metric: int
    next_code: str | None
    next_name: str | None
    remaining_to_next: int


class ExpiringOut(PlainOut):
    currency: str
    amount: int
    expires_at: dt.datetime


class RestrictedCreditOut(PlainOut):
    amount: int
    categories: list[str] = Field(description="spendable only on these product categories (empty: any)")
    branches: list[str] = Field(description="spendable only in these branches (empty: any)")
    expires_at: dt.datetime | None


class BalanceOut(PlainOut):
    member_id: int
    points: Amounts
    coins: Amounts
    wallet: Amounts
    gift_credit: Amounts
    gift_credit_restrictions: list[RestrictedCreditOut] = Field(
        description="the part of gift_credit.available that only some categories or branches can take")
    tier: TierOut
    expiring_soon: list[ExpiringOut]


class EntryOut(Schema):
    id: int
    kind: str
    currency: str
    amount: int = Field(description="signed: + into the member's account, − out of it")
    account: str = Field(description="available or pending")
    reason: str = Field(description="the reason, worded in the answer's language (Accept-Language, else the business's)")
    reason_code: str = Field(description="the reason as data: its code (earn.amount, ledger.expire, note …)")
    reason_params: dict = Field(description="the reason's parameters")
    purchase_id: int | None
    rule_id: str
    created_at: dt.datetime
    actor_kind: str
    actor_label: str


class EntryPage(Schema):
    items: list[EntryOut]
    next_cursor: str | None


class CardIn(Strict):
    kind: str | None = Field(None, description="magnetic, qr or barcode; default qr, or the replaced card's kind")
    number: str | None = Field(None, max_length=19, description="a pre-printed number (Luhn-valid)")
    replace: str | None = Field(None, max_length=19, description="the number of the card this one replaces")


class CardOut(Schema):
    number: str
    kind: str
    status: str
    issued_at: dt.datetime


class ReferralOut(Schema):
    code: str
    link: str
    qr_svg: str = Field(description="the link as a QR code (SVG), to print or show")
    referred: int


class SourceCount(Schema):
    source: str
    members: int


class CommissionRow(Schema):
    operator_id: str
    operator: str
    members: int
    amount: int
