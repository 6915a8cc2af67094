"""The balance read's one statement (selectors.balance_sheet) answers what the three selectors it stands for
answer, at every moment around pending releases and expiries, on both databases."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vafa.ledger.selectors import balance_sheet, balances, expiring_soon, gift_credit_restrictions
from vafa.ledger.services import credit, debit


@pytest.mark.django_db(transaction=False)
def test_the_balance_sheet_is_the_three_selectors_in_one_statement(member):
    now = timezone.now().replace(microsecond=0)
    day = dt.timedelta(days=1)
    credit(member, "points", 100, reason="note", expires_at=now + 3 * day)
    credit(member, "points", 40, reason="note", expires_at=now + 40 * day)
    credit(member, "points", 25, reason="note", pending_until=now + 2 * day, expires_at=now + 5 * day)
    credit(member, "wallet", 7_000, reason="note", expires_at=now + 3 * day)
    credit(member, "gift_credit", 5_000, reason="note", restrictions={"categories": ["coffee", "cake"]},
           expires_at=now + 10 * day)
    credit(member, "gift_credit", 3_000, reason="note", restrictions={"branches": ["t1"]})
    credit(member, "gift_credit", 2_000, reason="note")
    debit(member, "points", 30, reason="note")
    for at in (now, now + 2 * day, now + 3 * day + dt.timedelta(seconds=1), now + 11 * day, now + 60 * day):
        for days in (1, 30):
            with CaptureQueriesContext(connection) as statements:
                sheet = balance_sheet(member.business_id, member.pk, at, days)
            assert len(statements.captured_queries) == 1
            assert sheet == {"balances": balances(member, at),
                             "gift_credit_restrictions": gift_credit_restrictions(member, at),
                             "expiring_soon": expiring_soon(member, days, at)}, (at - now, days)
    assert balance_sheet(member.business_id, member.pk, now, 30)["balances"]["points"] == {"available": 110,
                                                                                          "pending": 25}
