"""Fixtures for the catalogue: a funded member and gifts to ask for."""

import pytest

from vafa.catalogue.services import create_gift
from vafa.members.balances import adjust


@pytest.fixture
def funded(member, business):
    """The member with 500 coins."""
    adjust(business, member.pk, "coins", 500, reason="test")
    return member


@pytest.fixture
def gift(business):
    return create_gift(business, title="ماگ سرامیکی", price_currency="coins", price=120, stock=5)


@pytest.fixture
def partner_gift(business):
    return create_gift(business, title="بلیت سینما", price_currency="coins", price=100, partner_name="سینما آزادی")
