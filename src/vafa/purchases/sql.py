"""The purchase's hand-written writes (issue 11): its row and lines in the use case's write plan (core.sql).

The row goes first in the plan, so that every row referring to it finds it at once (the composite foreign keys
of the Citus plan, docs/scaling.md, are checked per statement, not at commit), with its stored answer in it. A
purchase that also writes through the ORM at once (credit payments, rewards issued, a referral's rewards) has
its row and lines written before those (write_now), and its answer stored by an UPDATE in the plan.
"""

from __future__ import annotations

from django.db import IntegrityError, connection

from vafa.core.errors import Conflict
from vafa.core.sql import Statement, WritePlan, row_of
from vafa.purchases.models import Purchase, PurchaseLine


class PurchaseRow:
    """A purchase's row and lines (rows for PurchaseLine) in its write `plan`."""

    def __init__(self, plan: WritePlan, purchase: Purchase, lines: list[dict]):
        self.plan, self.purchase, self.lines = plan, purchase, lines
        self.first: list[Statement] = []  # the row's and the lines' statements, once in the plan

    def write_now(self) -> None:
        """The row and lines written at once, before a write outside the plan that refers to them."""
        self._insert()
        self.write(self.plan)

    def answer(self, result: dict) -> None:
        """The purchase's stored answer: in its row when the row is still to be written, else an UPDATE."""
        if self.first:
            self.plan.add("UPDATE purchases_purchase SET result = %s WHERE business_id = %s AND id = %s",
                          [_result_field().get_db_prep_save(result, connection), self.purchase.business_id,
                           self.purchase.pk])
            return
        self.purchase.result = result
        self._insert()
        self.plan.statements.sort(key=lambda statement: statement not in self.first)  # the row first

    def write(self, plan: WritePlan) -> None:
        """Write the plan; the purchase's receipt taken meanwhile by another member's purchase (committed first)
        is a conflict. No savepoint: the Conflict rolls the whole use case back, so nothing else runs in it."""
        try:
            plan.write()
        except IntegrityError as exc:
            if "receipt" not in str(exc):
                raise
            raise Conflict("receipt_exists", receipt=self.purchase.receipt) from None

    def _insert(self) -> None:
        self.first = [statement for statement in (
            self.plan.insert(Purchase, [row_of(self.purchase)], with_id=True),
            self.plan.insert(PurchaseLine, self.lines)) if statement is not None]


def _result_field():
    return Purchase._meta.get_field("result")
