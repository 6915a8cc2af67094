"""The purchase's hand-written SQL (issue 11): its row and lines in the use case's write plan (core.sql), and
the reads of a return's load (reversal_reads), sent with the member's lock in one round trip.

The row goes first in the plan, so that every row referring to it finds it at once (the composite foreign keys
of the Citus plan, docs/scaling.md, are checked per statement, not at commit), with its stored answer in it. A
purchase that also writes through the ORM at once (credit payments, rewards issued, a referral's rewards) has
its row and lines written before those (write_now), and its answer stored by an UPDATE in the plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, connection

from vafa.core.errors import Conflict
from vafa.core.sql import Statement, WritePlan, next_id_sql, row_of
from vafa.purchases.counters import PURCHASES, TOTAL, VISITS
from vafa.purchases.models import IssuedReward, Purchase, PurchaseLine
from vafa.vouchers.models import Redemption


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


# --- a return's load (purchases.reversals) -------------------------------------------------------------------


def member_of_purchase(business_id: int, purchase_id: int) -> int | None:
    """The member of the business's purchase (None: no such purchase): whose lock a return takes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT member_id FROM purchases_purchase WHERE business_id = %s AND id = %s",
                       [business_id, purchase_id])
        row = cursor.fetchone()
    return row[0] if row else None


# the purchase (locked where the database has row locks), with whether any code it used is still redeemed, the
# member's all-time purchase and visit counts (what a stamp's or a sequence's reconciliation starts from) and the
# id the return's row will have, taken up front so that its plan goes out with the audit row (write_last).
_PURCHASE = ("SELECT p.id, p.receipt, p.total, p.discount, p.other_amount, p.returned_amount, p.spend, p.status, "
             "p.occurred_at, p.program_version, r.n, c.purchases, c.visits, {next_id} FROM purchases_purchase p, "
             "(SELECT COUNT(*) AS n FROM vouchers_redemption r WHERE r.business_id = %s AND r.purchase_id = %s AND "
             "r.status = %s) r, (SELECT COALESCE(SUM(CASE WHEN c.name = %s THEN c.value END), 0) AS purchases, "
             "COALESCE(SUM(CASE WHEN c.name = %s THEN c.value END), 0) AS visits FROM purchases_activitycounter c "
             "WHERE c.business_id = %s AND c.member_id = %s AND c.name IN (%s, %s) AND c.day = %s) c "
             "WHERE p.business_id = %s AND p.id = %s")
# its effects (part 0) and the member's rewards not revoked (part 1), in one statement
_EFFECTS_AND_REWARDS = (
    "SELECT 0, id, kind, rule_id, currency, amount, reversed_amount, occurred_at FROM purchases_rewardeffect "
    "WHERE business_id = %s AND purchase_id = %s AND kind IN (%s, %s, %s) UNION ALL "
    "SELECT 1, id, key, status, reward_code, used_purchase_id, NULL, NULL FROM purchases_issuedreward "
    "WHERE business_id = %s AND member_id = %s AND status <> %s ORDER BY 1, 2")
_LINES = ("SELECT id, sku, quantity, amount, returned_quantity FROM purchases_purchaseline WHERE business_id = %s "
          "AND purchase_id = %s ORDER BY position")


def reversal_reads(business_id: int, member_id: int, purchase_id: int, kinds: tuple[str, str, str], *,
                   lines: bool) -> list[tuple[str, list[Any]]]:
    """A return's reads of its own rows, to send after the member's lock (core.sql.read_all): the purchase
    (id, receipt, total, discount, other_amount, returned_amount, spend, status, occurred_at, program_version,
    its codes still redeemed, the member's all-time purchases and visits, the return's id); its effects of `kinds` (0, id, kind,
    rule_id, currency, amount, reversed_amount, occurred_at: moment() reads it) in id order and the member's
    rewards not revoked (1, id, key, status, code, used purchase id, …); with `lines`, its lines (id, sku,
    quantity, amount, returned quantity)."""
    day = connection.ops.adapt_datefield_value(TOTAL)
    purchase = (_PURCHASE.format(next_id=next_id_sql(connection.vendor, 'purchases_return'))
                + (" FOR UPDATE OF p" if connection.features.has_select_for_update else ""))
    reads = [(purchase, [business_id, purchase_id, Redemption.Status.REDEEMED, PURCHASES, VISITS, business_id,
                         member_id, PURCHASES, VISITS, day, business_id, purchase_id]),
             (_EFFECTS_AND_REWARDS, [business_id, purchase_id, *kinds, business_id, member_id,
                                     IssuedReward.Status.REVOKED])]
    if lines:
        reads.append((_LINES, [business_id, purchase_id]))
    return reads


def moment(value: Any) -> dt.datetime:
    """A moment as read by hand: SQLite answers text or a naive datetime (UTC), PostgreSQL an aware one."""
    if isinstance(value, str) or value.tzinfo is None:
        return connection.ops.convert_datetimefield_value(value, None, connection)
    return value
