from ninja import Schema
from pydantic import Field

from vafa.purchases.schemas import PurchaseIn


class ProgramOut(Schema):
    version: int
    document: dict


class SimulateIn(PurchaseIn):
    """A hypothetical purchase: nothing is written; the receipt may be omitted."""

    receipt: str = Field("simulation", max_length=64)
    dry_run: bool = True
