import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from vafa.core.schemas import StrictSchema as Strict

Currency = Literal["coins", "points", "wallet"]


class GroupIn(Strict):
    title: str = Field(max_length=200, examples=["کافه"])
    position: StrictInt = Field(0, ge=-10**9, le=10**9)


class GroupOut(Schema):
    id: int
    title: str
    position: int


class GiftIn(Strict):
    title: str = Field(max_length=200, examples=["ماگ سرامیکی"])
    group_id: StrictInt | None = Field(None, ge=1)
    description: str = Field("", max_length=5000)
    picture: str = Field("", max_length=500, description="an http(s) URL, or a path on this site")
    display_from: str | None = Field(None, max_length=10, description="first day shown (ISO or Jalali), inclusive")
    display_until: str | None = Field(None, max_length=10, description="last day shown (ISO or Jalali), inclusive")
    price_currency: Currency
    price: StrictInt = Field(ge=1, le=10**15, examples=[500])
    stock: StrictInt | None = Field(None, ge=0, le=10**9, description="null: unlimited; a partner gift's stock "
                                                                         "is its imported codes")
    partner_name: str = Field("", max_length=200)
    active: StrictBool = True


class GiftPatch(Strict):
    title: str | None = Field(None, max_length=200)
    group_id: StrictInt | None = Field(None, ge=1)
    description: str | None = Field(None, max_length=5000)
    picture: str | None = Field(None, max_length=500)
    display_from: str | None = Field(None, max_length=10)
    display_until: str | None = Field(None, max_length=10)
    price_currency: Currency | None = None
    price: StrictInt | None = Field(None, ge=1, le=10**15)
    stock: StrictInt | None = Field(None, ge=0, le=10**9)
    partner_name: str | None = Field(None, max_length=200)
    active: StrictBool | None = None


class GiftOut(Schema):
    id: int
    group_id: int | None
    group_title: str | None
    title: str
    description: str
    picture: str
    display_from: dt.date | None
    display_until: dt.date | None
    price_currency: str
    price: int
    stock: int | None = Field(description="units left; null: unlimited")
    partner_name: str
    active: bool


class GiftList(Schema):
    items: list[GiftOut]


class CodesIn(Strict):
    codes: list[str] | None = Field(None, max_length=10_000, description="the codes, one per item")
    csv: str | None = Field(None, max_length=2_000_000, description="or a CSV whose first column is the code")


class CodesOut(Schema):
    gift_id: int
    imported: int
    skipped_duplicates: int
    available: int


class RequestIn(Strict):
    member_id: StrictInt = Field(ge=1)


class NoteIn(Strict):
    note: str = Field("", max_length=2000)


class ShipIn(Strict):
    shipping_note: str = Field("", max_length=2000, description="carrier and tracking number")


class RequestOut(Schema):
    id: int
    member_id: int
    gift_id: int
    gift_title: str
    price_currency: str
    price: int
    status: str
    code: str | None = Field(description="the partner code handed out, for a partner gift")
    shipping_note: str
    note: str
    debit_entry_id: int
    refund_entry_id: int | None
    requested_at: dt.datetime
    fulfilled_at: dt.datetime | None
    rejected_at: dt.datetime | None
    shipped_at: dt.datetime | None
    requested_by: str
    handled_by: str


class RequestPage(Schema):
    items: list[RequestOut]
    next_cursor: str | None
