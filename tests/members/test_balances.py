"""The write-down jobs in bulk (members.balances over ledger.services.settle_lots): many members' due lots written in
a few statements, exactly as the reads counted them in and as one member's spend would have written them."""

import datetime as dt

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.ledger.helpers import document
from tests.purchases.test_query_count import listed

from vafa.access.models import AuditEvent
from vafa.ledger import services as ledger
from vafa.ledger.check import check_ledger
from vafa.ledger.maths import DueLot, settle, settled_balances
from vafa.ledger.models import Entry, Lot, LotMovement
from vafa.ledger.selectors import balances, members_balances
from vafa.members.balances import ConversionInput, adjust, convert, expire_lots, release_pending
from vafa.members.locks import lock_member
from vafa.outbox.models import OutboxEvent
from vafa.purchases.services import record_purchase, return_purchase

DAY = dt.timedelta(days=1)


def _grant(business, member, amount, *, at, expires_at=None, pending_until=None, currency="points"):
    with transaction.atomic():
        locked = lock_member(member.pk, business.pk)
        return ledger.credit(locked, currency, amount, reason="seed", at=at, expires_at=expires_at,
                             pending_until=pending_until)


def _history(business, make_member, program, start, tag=""):
    """Members with pending lots due, open lots past their expiry, lots not due yet, one lot that is released
    and expires in the same write-down, and one member in debt (a return's claw-back) whose release repays it."""
    program(document(rate=(1, 1000), pending_days=7, tiers=False))
    members = [make_member() for _ in range(12)]
    for i, member in enumerate(members):
        _grant(business, member, 100 + i, at=start, pending_until=start + 7 * DAY)  # due
        _grant(business, member, 40 + i, at=start, expires_at=start + 9 * DAY)  # expired
        _grant(business, member, 7, at=start, pending_until=start + 99 * DAY)  # not due
        _grant(business, member, 5, at=start, expires_at=start + 99 * DAY)  # not due
        _grant(business, member, 3, at=start, currency="wallet", expires_at=start + 8 * DAY)  # expired
    _grant(business, members[0], 11, at=start, pending_until=start + DAY, expires_at=start + 2 * DAY)
    debtor = members[-1]  # spends what a purchase earned, then the purchase is returned: a debt
    earning = record_purchase(business, member_id=debtor.pk, branch_code="t1", receipt=f"{tag}E1", total=5_000_000,
                              occurred_at=start + 10 * DAY)
    record_purchase(business, member_id=debtor.pk, branch_code="t1", receipt=f"{tag}S1", total=400_000,
                    redeem_points=400, occurred_at=start + 18 * DAY)
    return_purchase(business, earning["purchase_id"], amount=5_000_000, at=start + 19 * DAY)
    record_purchase(business, member_id=debtor.pk, branch_code="t1", receipt=f"{tag}E2", total=5_000_000,
                    occurred_at=start + 20 * DAY)
    return members


def test_the_jobs_write_down_every_member_as_the_reads_counted_in_a_few_statements(business, make_member,
                                                                                     program):
    start = timezone.now() - 40 * DAY
    members = _history(business, make_member, program, start)
    now = start + 30 * DAY
    ids = [member.pk for member in members]
    before = members_balances(business.pk, ids, now)
    debt = members[-1].account_set.get(currency="points", kind="available").balance
    assert debt < 0 < before[members[-1].pk]["points"]["available"]  # the debtor's later earning repays it

    with CaptureQueriesContext(connection) as released:
        assert release_pending(now) == 13  # the pending lots due, the debtor's later earning included
    with CaptureQueriesContext(connection) as expired:
        # past expiry: 11 points and 11 wallet lots (the debtor's went with its spend), and the one just released
        assert expire_lots(now) == 23
    # a few statements for the lot of them: not some per lot or per member
    assert len(released.captured_queries) <= 12
    assert len(expired.captured_queries) <= 12
    assert release_pending(now) == 0 and expire_lots(now) == 0  # idempotent
    assert check_ledger() == []

    assert members_balances(business.pk, ids, now) == before
    for member in members:
        accounts = {(a.currency, a.kind): a.balance for a in member.account_set.all()}
        for currency in ("points", "wallet"):
            assert accounts.get((currency, "available"), 0) == before[member.pk][currency]["available"]
            assert accounts.get((currency, "pending"), 0) == before[member.pk][currency]["pending"]
    # dated when each happened, not when the job ran
    release = Entry.objects.filter(member=members[1], kind=Entry.Kind.RELEASE).get()
    assert (release.created_at, release.amount, release.source) == (start + 7 * DAY, 101, "job:release")
    assert release.reason_code == "ledger.release" and release.reason_params["amount"] == 101
    both = Lot.objects.get(member=members[0], amount=11)
    assert (both.state, both.remaining) == (Lot.State.CLOSED, 0)
    assert Entry.objects.filter(member=members[0], kind=Entry.Kind.EXPIRE, amount=11,
                                created_at=start + 2 * DAY).exists()
    assert OutboxEvent.objects.filter(event_type="points.expired").count() == 13  # the debtor's spend wrote one
    assert OutboxEvent.objects.filter(event_type="credit.expired").count() == 12
    assert Lot.objects.filter(state=Lot.State.PENDING, available_at__lte=now).count() == 0


def test_a_spend_writes_down_one_member_the_way_the_jobs_write_down_many(business, make_member, program):
    """The same history twice: written down by the jobs, and by one member's spend each (settle_due_lots). The
    entries, lots and movements are the same."""
    start = timezone.now() - 40 * DAY
    now = start + 30 * DAY

    def written(members):
        return sorted((i, e.kind, e.currency, e.amount, e.created_at, e.reason_code, e.reason_params)
                      for i, m in enumerate(members) for e in Entry.objects.filter(member=m, source__startswith="job:"))

    first = _history(business, make_member, program, start)
    release_pending(now)
    expire_lots(now)
    second = _history(business, make_member, program, start, tag="b")
    for member in second:
        with transaction.atomic():
            ledger.settle_due_lots(lock_member(member.pk, business.pk), now)
    assert written(first) == written(second)
    lots = [sorted(Lot.objects.filter(member__in=group).values_list("currency", "amount", "remaining", "state"))
            for group in (first, second)]
    assert lots[0] == lots[1]
    moves = [sorted(LotMovement.objects.filter(entry__member__in=group, entry__source__startswith="job:")
                    .values_list("amount", flat=True)) for group in (first, second)]
    assert moves[0] == moves[1]
    assert check_ledger() == []


def test_settle_releases_in_order_repaying_a_debt_then_expires_what_is_past_its_end():
    at = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    due = [DueLot(1, True, 50, at - 2 * DAY, None), DueLot(2, True, 80, at - 3 * DAY, at - DAY),
           DueLot(3, False, 20, None, at - 5 * DAY)]
    steps = [(s.lot.id, s.kind, s.amount, s.remaining, s.at) for s in settle(-60, due, at)]
    assert steps == [
        (2, "release", 80, 20, at - 3 * DAY),  # 60 of it repays the debt, 20 opens
        (1, "release", 50, 50, at - 2 * DAY),
        (3, "expire", 20, 0, at - 5 * DAY),
        (2, "expire", 20, 0, at - DAY),
    ]
    assert settled_balances(-60, 130, due, at) == (-60 + 130 - 40, 0)
    assert [s.kind for s in settle(-60, due, at, expire=False)] == ["release", "release"]


# A conversion (members.balances.convert) as load → decide → write: the member's lock and the load (2), the
# ledger's debit as the ledger writes it (the due lots, the open lots, the entry, the balance, the lot and its
# movement: 6), its credit (entry, lot, movement, balance: 4), the outbox event and the audit row (2), and the
# test transaction's SAVEPOINT and RELEASE: 16 (3 fewer than before: the program and the balances read back).
CONVERSION_STATEMENTS = 16


def test_a_conversion_answers_the_balances_a_read_gives_in_a_few_statements(business, member, program):
    program(document(rate=(10, 1_000)))
    adjust(business, member.pk, "points", 100, reason="seed")
    convert(business, ConversionInput(member.pk, 10))  # the wallet's and the conversion's accounts exist from here
    with CaptureQueriesContext(connection) as queries:
        result = convert(business, ConversionInput(member.pk, 25))
    assert (result["points_converted"], result["wallet_credited"], result["replayed"]) == (20, 2_000, False)
    assert result["balance"] == balances(member)
    assert (result["balance"]["points"]["available"], result["balance"]["wallet"]["available"]) == (70, 3_000)
    assert AuditEvent.objects.filter(business=business, operation="conversion").count() == 2
    assert OutboxEvent.objects.filter(business=business, event_type="points.converted").count() == 2
    assert check_ledger() == []
    assert len(queries) <= CONVERSION_STATEMENTS, f"{len(queries)} queries:\n{listed(queries)}"
