"""The base of every request body: unknown fields are refused, and so is text no database can store: the NUL
character (PostgreSQL) and lone surrogates (not encodable as UTF-8)."""

from typing import Any

from ninja import Schema
from pydantic import ConfigDict, model_validator


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text must be valid Unicode without the NUL character")
        return data
