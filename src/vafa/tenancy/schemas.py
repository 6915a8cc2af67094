from ninja import Schema
from pydantic import Field

from vafa.core.schemas import StrictSchema as Strict


class BranchOut(Schema):
    code: str
    name: str
    address: str
    active: bool


class BranchIn(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$", examples=["vanak"])
    name: str = Field(min_length=1, max_length=200, examples=["شعبه ونک"])
    address: str = Field("", max_length=1000)


class BusinessOut(Schema):
    name: str
    slug: str
    currency: str
    timezone: str
    language: str
    calendar: str
