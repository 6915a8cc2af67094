"""The admin API's schemas, and the parts of a WooCommerce REST v3 order payload that Vafa reads.

Amounts in a WooCommerce payload are decimal strings ("125000.00", "-5000.00"); they are read as Decimal and
never as float. The receiver parses the body with `parse_float=Decimal`, so a number sent bare is exact too."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from vafa.core.schemas import StrictSchema as Strict

# --- admin API -----------------------------------------------------------------------------------------


class ConnectionIn(Strict):
    branch: str = Field(max_length=32, examples=["online"], description="the branch online orders count in")
    sign_up_unknown: bool = Field(True, description="sign up a member for an unknown billing mobile")
    paid_statuses: list[str] = Field(["processing", "completed"], min_length=1, max_length=10,
                                     description="order statuses that mean paid (without the wc- prefix)")


class ConnectionOut(Schema):
    id: int
    branch: str
    delivery_url: str
    sign_up_unknown: bool
    paid_statuses: list[str]
    active: bool
    created_at: dt.datetime
    last_delivery_at: dt.datetime | None = None


class ConnectionCreated(ConnectionOut):
    secret: str = Field(description="paste into WooCommerce's webhook Secret field; the list never shows it")


class ConnectionList(Schema):
    items: list[ConnectionOut]


class WebhookOut(Schema):
    """What a delivery did. `ignored` says why a well-signed delivery changed nothing (answered 202)."""

    ping: bool | None = None
    order_id: int | None = None
    status: str | None = None
    purchase_id: int | None = None
    actions: list[dict] = []
    ignored: str | None = None


# --- WooCommerce's order payload ------------------------------------------------------------------------


def _not_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("not_a_decimal")  # a float has already lost the exact amount
    return value


Amount = Annotated[Decimal, BeforeValidator(_not_float)]
Text = Annotated[str, BeforeValidator(lambda v: "" if v is None else v)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Billing(Payload):
    first_name: Text = ""
    last_name: Text = ""
    email: Text = ""
    phone: Text = ""


class LineItem(Payload):
    id: int | None = None
    name: Text = ""
    product_id: int | None = None
    quantity: int
    subtotal: Amount  # before coupons, excluding tax
    total: Amount  # after coupons, excluding tax
    sku: Text = ""
    categories: list[Any] = []  # not sent by WooCommerce itself: added by a snippet (docs/woocommerce.md)
    meta_data: list[Any] = []


class Refund(Payload):
    id: int
    reason: Text = ""
    total: Amount  # negative: "-5000.00"


class Order(Payload):
    id: int = Field(ge=1)
    status: str = Field(max_length=32)
    currency: Text = ""
    total: Amount
    date_created_gmt: str | None = None
    date_paid_gmt: str | None = None
    billing: Billing = Billing()
    line_items: list[LineItem] = []
    refunds: list[Refund] = []
