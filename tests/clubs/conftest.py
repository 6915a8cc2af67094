import pytest
from tests.conftest import PROGRAM

VIP = {"code": "vip", "name": {"fa": "ویژه", "en": "VIP"}, "price": 500_000, "period": "monthly", "multiplier": 2,
       "discount_percent": 10, "perks": [{"fa": "ارسال رایگان", "en": "Free delivery"}]}


@pytest.fixture
def with_plans(program):
    return program(PROGRAM | {"plans": [VIP, {"code": "year", "name": "Yearly", "price": 5_000_000,
                                              "period": "yearly"}]})


@pytest.fixture
def closed_club(program):
    return program(PROGRAM | {"club": {"kind": "closed", "entry": {"basis": "spend", "threshold": 1_000_000}}})
