"""A random walk over the public service layer (earn, spend, return, cancel, release, expire, convert, replay)
with the ledger's invariants checked after every step and the expected amounts tracked by a model."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import pytest
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import ON_POSTGRES
from vafa.core.errors import AlreadyDone, InsufficientBalance
from vafa.ledger.check import check_ledger
from vafa.ledger.models import Account, Entry, Lot
from vafa.ledger.selectors import balances
from vafa.members.balances import convert_points_to_wallet, expire_lots, release_pending
from vafa.members.services import sign_up
from vafa.program.services import activate_program
from vafa.purchases.models import Purchase, Return, RewardEffect
from vafa.purchases.services import cancel_purchase, record_purchase, return_purchase
from vafa.tenancy.services import create_branch, create_business

from .helpers import days, document, points

PER = 10_000  # 1 point per 10,000 paid in cash
VALUE = 1_000  # 1 point pays 1,000
EXPIRY_DAYS = 30
PENDING_DAYS = 5
MACHINE_PROGRAM = document(
    pending_days=PENDING_DAYS, expiry_days=EXPIRY_DAYS, rate=(1, VALUE), tiers=False,
    rules=[{"id": "base", "kind": "earn", "per": PER, "award": 1}],
)
_slugs = itertools.count(1)


def half_up(value: Fraction) -> int:
    return (value.numerator * 2 + value.denominator) // (value.denominator * 2)


@dataclass
class Bought:
    receipt: str
    key: str | None
    kwargs: dict
    purchase_id: int
    total: int
    earned: int
    redeemed: int
    returned: int = 0
    status: str = Purchase.Status.COMPLETED

    @property
    def open(self) -> bool:
        return self.status in Purchase.COUNTED

    def owed(self, amount: int) -> int:
        """The model's cumulative reversal of `amount` after `returned` of `total` came back."""
        return half_up(Fraction(amount * self.returned, self.total)) if self.total else 0


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        try:
            n = next(_slugs)
            self.business = create_business(name=f"machine {n}", slug=f"machine-{n}")
            create_branch(self.business, code="b1", name="Branch")
            activate_program(self.business, MACHINE_PROGRAM)
            self.member = sign_up(self.business, mobile="09121234567")
            self.bystander = sign_up(self.business, mobile="09121234568")
            self.clock = (timezone.now() - days(400)).replace(microsecond=0)
            self.receipts = itertools.count(1)
            self.bought: list[Bought] = []
            # the model: every amount the member's points moved by, except expiry which the ledger decides
            self.earned = self.redeemed = self.reversed = self.given_back = self.converted = 0
            self._buy(self.bystander, 300_000, redeem=0)
            # an opening balance, bought 10 days ago and released since: 200 points to spend
            self.clock -= days(10)
            self._buy(self.member, 2_000_000, redeem=0)
            self.earned += 200
            self.clock += days(10)
            release_pending(self.clock)
            assert points(self.member) == {"available": 200, "pending": 0}
        except BaseException:
            self.teardown()
            raise

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ----------------------------------------------------------------------------------------

    def _buy(self, member, total: int, redeem: int, use_key: bool = True) -> dict:
        receipt = f"M{next(self.receipts)}"
        key = f"key-{receipt}" if use_key else None
        kwargs = dict(member_id=member.pk, branch_code="b1", receipt=receipt, total=total, redeem_points=redeem,
                      occurred_at=self.clock)
        result = record_purchase(self.business, idempotency_key=key, **kwargs)
        if member.pk == self.member.pk:
            earned = sum(e["amount"] for e in result["effects"] if e["kind"] == "earn")
            self.bought.append(Bought(receipt, key, kwargs, result["purchase_id"], total, earned, redeem))
        return result

    def _available(self) -> int:
        """What the member can spend at the clock: lots past their expiry are gone even before expire_lots."""
        return balances(self.member, self.clock)["points"]["available"]

    def _counts(self) -> tuple[int, ...]:
        return (Entry.objects.count(), Purchase.objects.count(), Lot.objects.count(), Return.objects.count())

    def _pick(self, data, items: list[Bought]) -> Bought:
        return items[data.draw(st.integers(0, len(items) - 1))]

    # --- rules ------------------------------------------------------------------------------------------

    @rule(step=st.integers(0, 12), run_jobs=st.booleans())
    def tick(self, step, run_jobs):
        self.clock += days(step)
        release_pending(self.clock)  # the nightly jobs, at the new time
        if run_jobs:
            expire_lots(self.clock)

    @rule(total=st.one_of(st.integers(0, 2_000_000), st.sampled_from([0, 9_999, 10_000, 100_000])),
          use_key=st.booleans())
    def earn(self, total, use_key):
        result = self._buy(self.member, total, redeem=0, use_key=use_key)
        expected = total // PER
        assert [(e["kind"], e["amount"]) for e in result["effects"]] == ([("earn", expected)] if expected else [])
        assert result["replayed"] is False
        self.earned += expected

    @rule(data=st.data(), cash=st.integers(0, 150_000), everything=st.booleans())
    def spend(self, data, cash, everything):
        available = self._available()
        if everything and available > 0:
            redeem = available
        else:
            redeem = data.draw(st.integers(1, max(available, 0) + 5), label="redeem")
        if redeem > max(available, 0):
            before = self._counts()
            with pytest.raises(InsufficientBalance) as info:
                self._buy(self.member, redeem * VALUE + cash, redeem=redeem)
            assert info.value.params["available"] == max(available, 0)
            assert self._counts() == before
            return
        result = self._buy(self.member, redeem * VALUE + cash, redeem=redeem)
        assert (result["points_redeemed"], result["points_value"]) == (redeem, redeem * VALUE)
        assert result["earning_base"] == cash
        assert self._available() == available - redeem
        self.redeemed += redeem
        self.earned += cash // PER

    @precondition(lambda self: any(b.open and b.returned < b.total for b in self.bought))
    @rule(data=st.data())
    def return_part(self, data):
        bought = self._pick(data, [b for b in self.bought if b.open and b.returned < b.total])
        amount = data.draw(st.one_of(st.integers(1, bought.total - bought.returned),
                                     st.just(bought.total - bought.returned)), label="amount")
        self._reverse(bought, amount, cancel=False)

    @precondition(lambda self: any(b.open for b in self.bought))
    @rule(data=st.data())
    def cancel(self, data):
        bought = self._pick(data, [b for b in self.bought if b.open])
        self._reverse(bought, bought.total - bought.returned, cancel=True)

    def _reverse(self, bought: Bought, amount: int, cancel: bool):
        earn_before, spend_before = bought.owed(bought.earned), bought.owed(bought.redeemed)
        bought.returned += amount
        earn_share = bought.owed(bought.earned) - earn_before
        spend_share = bought.owed(bought.redeemed) - spend_before
        if cancel:
            result = cancel_purchase(self.business, bought.purchase_id, at=self.clock)
        else:
            result = return_purchase(self.business, bought.purchase_id, amount=amount, at=self.clock)
        got = {r["kind"]: r["amount"] for r in result["reversed"]}
        expected = {k: v for k, v in (("give_back", spend_share), ("reverse", earn_share)) if v}
        assert got == expected
        assert result["returned_amount"] == amount
        assert result["returned_total"] == bought.returned
        if cancel:
            bought.status = Purchase.Status.CANCELLED
        elif bought.returned == bought.total:
            bought.status = Purchase.Status.RETURNED
        else:
            bought.status = Purchase.Status.PARTIALLY_RETURNED
        assert result["status"] == bought.status
        self.reversed += earn_share
        self.given_back += spend_share

    @precondition(lambda self: any(not b.open for b in self.bought))
    @rule(data=st.data())
    def reverse_again(self, data):
        bought = self._pick(data, [b for b in self.bought if not b.open])
        before = self._counts()
        with pytest.raises(AlreadyDone):
            if data.draw(st.booleans()):
                cancel_purchase(self.business, bought.purchase_id, at=self.clock)
            else:
                return_purchase(self.business, bought.purchase_id, amount=1, at=self.clock)
        assert self._counts() == before

    @rule(data=st.data(), use_key=st.booleans(), replay=st.booleans())
    def convert(self, data, use_key, replay):
        """Points → wallet at the loyalty table's 1 point = VALUE; a replay of the key converts nothing more."""
        available = self._available()
        asked = data.draw(st.integers(1, max(available, 0) + 5), label="points")
        call = dict(idempotency_key=f"convert-{next(self.receipts)}" if use_key else None, at=self.clock)
        before = self._counts()
        if asked > max(available, 0):
            with pytest.raises(InsufficientBalance):
                convert_points_to_wallet(self.business, self.member.pk, asked, **call)
            assert self._counts() == before
            return
        result = convert_points_to_wallet(self.business, self.member.pk, asked, **call)
        assert (result["points_converted"], result["wallet_credited"], result["replayed"]) == (
            asked, asked * VALUE, False)
        assert self._available() == available - asked
        self.converted += asked
        if use_key and replay:
            after = self._counts()
            again = convert_points_to_wallet(self.business, self.member.pk, asked, **call)
            assert again["replayed"] is True and again["entries"] == result["entries"]
            assert self._counts() == after

    @rule()
    def expire(self):
        expire_lots(self.clock)
        assert not Lot.objects.filter(business=self.business, state=Lot.State.OPEN, remaining__gt=0,
                                      expires_at__lte=self.clock).exists()

    @rule()
    def release(self):
        release_pending(self.clock)
        assert not Lot.objects.filter(business=self.business, state=Lot.State.PENDING,
                                      available_at__lte=self.clock).exists()
        before = self._counts()
        assert release_pending(self.clock) == 0  # idempotent
        assert self._counts() == before

    @precondition(lambda self: self.bought)
    @rule(data=st.data(), drop_key=st.booleans())
    def replay(self, data, drop_key):
        bought = self._pick(data, self.bought)
        before = self._counts()
        key = None if drop_key else bought.key
        result = record_purchase(self.business, idempotency_key=key, **bought.kwargs)
        assert result["replayed"] is True
        assert result["purchase_id"] == bought.purchase_id
        assert self._counts() == before

    # --- invariants -------------------------------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self):
        assert check_ledger(self.business.pk) == []

    @invariant()
    def reads_count_in_what_the_jobs_would_write(self):
        """The balance read at the clock is the balance once the jobs have written down what is due by then."""
        read = balances(self.member, self.clock)["points"]
        with transaction.atomic():
            release_pending(self.clock)
            expire_lots(self.clock)
            assert points(self.member) == read
            transaction.set_rollback(True)

    @invariant()
    def balances_match_the_entries_and_the_model(self):
        balance = points(self.member)
        total = balance["available"] + balance["pending"]
        earned = spent = expired = clawed_back = given_back = converted = 0
        for kind, amount, debit_member, debit_kind, credit_member in (
                Entry.objects.filter(member=self.member, currency="points")
                .values_list("kind", "amount", "debit__member_id", "debit__kind", "credit__member_id")):
            if kind == Entry.Kind.EARN:
                earned += amount
            elif kind == Entry.Kind.SPEND:
                spent += amount
            elif kind == Entry.Kind.EXPIRE:
                expired += amount
            elif kind == Entry.Kind.REVERSE and debit_member == self.member.pk:
                clawed_back += amount
                assert debit_kind in ("available", "pending")
            elif kind == Entry.Kind.REVERSE:
                assert credit_member == self.member.pk
                given_back += amount
            elif kind == Entry.Kind.CONVERT:
                assert debit_member == self.member.pk and credit_member is None
                converted += amount
            else:
                assert kind == Entry.Kind.RELEASE
        # issued − spent − expired ∓ reversed, from the entries by kind
        assert total == earned - spent - expired - clawed_back + given_back - converted
        # the model, which knows everything but what expired
        assert (earned, spent, clawed_back, given_back, converted) == (
            self.earned, self.redeemed, self.reversed, self.given_back, self.converted)
        # the wallet holds what the conversions credited, less what expired of it
        wallet = {kind: sum(a for k, a in rows if k == kind) for kind in (Entry.Kind.CONVERT, Entry.Kind.EXPIRE)
                  for rows in [Entry.objects.filter(member=self.member, currency="wallet").values_list("kind",
                                                                                                     "amount")]}
        assert wallet[Entry.Kind.CONVERT] == self.converted * VALUE
        assert Account.objects.filter(member=self.member, currency="wallet", kind="available").values_list(
            "balance", flat=True).first() in (None, wallet[Entry.Kind.CONVERT] - wallet[Entry.Kind.EXPIRE])
        assert balance["pending"] >= 0
        # a negative balance is only ever a return's debt, and then no lot is open
        if balance["available"] < 0:
            assert clawed_back >= -balance["available"]
            assert not Lot.objects.filter(member=self.member, currency="points", state=Lot.State.OPEN,
                                          remaining__gt=0).exists()

    @invariant()
    def lots_effects_and_purchases_match_the_model(self):
        assert not Lot.objects.filter(Q(remaining__gt=F("amount")) | Q(remaining__lt=0),
                                      business=self.business).exists()
        if not self.bought:
            return
        effects = {(e.purchase_id, e.kind): (e.amount, e.reversed_amount)
                   for e in RewardEffect.objects.filter(member=self.member, kind__in=("earn", "spend"))}
        expected = {}
        for b in self.bought:
            if b.earned:
                expected[(b.purchase_id, "earn")] = (b.earned, b.owed(b.earned))
            if b.redeemed:
                expected[(b.purchase_id, "spend")] = (b.redeemed, b.owed(b.redeemed))
        assert effects == expected
        rows = dict(Purchase.objects.filter(member=self.member).values_list("pk", "status"))
        assert rows == {b.purchase_id: b.status for b in self.bought}
        bystander = points(self.bystander)
        assert bystander["available"] + bystander["pending"] in (30, 0)


@pytest.mark.django_db
def test_ledger_state_machine():
    # PostgreSQL is several times slower per query here; SQLite walks more examples in the same time.
    examples = 15 if ON_POSTGRES else 25
    run_state_machine_as_test(LedgerMachine, settings=settings(max_examples=examples, stateful_step_count=25,
                                                               deadline=None, database=None))
