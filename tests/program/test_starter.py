"""The starter program holds points for a return window, so earn → convert → spend → cancel keeps nothing
(issue 10)."""

import pytest

from vafa.core.errors import InsufficientBalance
from vafa.ledger.check import check_ledger
from vafa.ledger.selectors import balances
from vafa.members.balances import convert_points_to_wallet
from vafa.members.services import sign_up
from vafa.program.selectors import active_program
from vafa.purchases.services import cancel_purchase, record_purchase
from vafa.tenancy.services import create_branch, create_business


@pytest.fixture
def starter_business(db):
    business = create_business(name="Starter", slug="starter")
    create_branch(business, code="b1", name="B1")
    return business


def test_the_starter_program_holds_points_for_a_return_window(starter_business):
    _, document = active_program(starter_business)
    assert document.settings.currency("points").pending_days == 14


def test_earn_convert_spend_cancel_keeps_no_value(starter_business):
    member = sign_up(starter_business, mobile="09121234567")
    earned = record_purchase(starter_business, member_id=member.pk, branch_code="b1", receipt="E-1",
                             total=1_000_000)
    assert balances(member)["points"] == {"available": 0, "pending": 100}
    with pytest.raises(InsufficientBalance):  # converting needs available points: none until the window ends
        convert_points_to_wallet(starter_business, member.pk, 100)
    with pytest.raises(InsufficientBalance):  # and there is no wallet credit to spend
        record_purchase(starter_business, member_id=member.pk, branch_code="b1", receipt="S-1", total=10_000,
                        redeem_wallet=10_000)
    cancel_purchase(starter_business, earned["purchase_id"])
    after = balances(member)
    assert (after["points"], after["wallet"]) == ({"available": 0, "pending": 0}, {"available": 0, "pending": 0})
    assert check_ledger() == []
