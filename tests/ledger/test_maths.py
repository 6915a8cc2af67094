"""vafa.ledger.maths.LedgerDraft: a reversal's ledger side decided in memory, step after step."""

import datetime as dt

from vafa.ledger.maths import CLOSED, OPEN, PENDING, DraftLot, LedgerDraft

AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def lot(pk, currency, state, remaining, *, purchase=None, expires=None, amount=None, days_old=10):
    return DraftLot(pk, currency, state, amount or remaining, remaining, AT - dt.timedelta(days=days_old), expires,
                    purchase)


def test_a_claw_back_takes_the_purchases_pending_lots_first_then_its_open_ones_then_others_expiring_first():
    lots = [lot(1, "points", PENDING, 30, purchase=7), lot(2, "points", OPEN, 40, purchase=7),
            lot(3, "points", OPEN, 50, expires=AT + dt.timedelta(days=90)), lot(4, "points", OPEN, 50)]
    draft = LedgerDraft(lots, {("points", "available"): 140, ("points", "pending"): 30})
    assert draft.claw_back("points", 100, 7, "why") == 0
    assert [(e.member_kind, e.amount) for e in draft.entries] == [("pending", 30), ("available", 70)]
    assert [(m.id, taken) for m, taken in draft.entries[1].moves] == [(2, -40), (3, -30)]
    assert (draft.lots[1].state, draft.lots[2].state, draft.lots[3].remaining) == (CLOSED, CLOSED, 20)
    assert draft.balances == {("points", "available"): 70, ("points", "pending"): 0}


def test_points_become_a_debt_and_money_like_credit_is_answered_as_unrecovered():
    points = LedgerDraft([lot(1, "points", OPEN, 10, purchase=7)], {("points", "available"): 10})
    assert points.claw_back("points", 25, 7, "why") == 0
    assert points.balances[("points", "available")] == -15
    wallet = LedgerDraft([lot(1, "wallet", OPEN, 10, purchase=7)], {("wallet", "available"): 10})
    assert wallet.claw_back("wallet", 25, 7, "why") == 15
    assert wallet.balances[("wallet", "available")] == 0 and [e.amount for e in wallet.entries] == [10]


def test_a_give_back_refills_the_lots_last_taken_first_repays_a_debt_and_opens_a_lot_for_the_rest():
    spent = [lot(1, "wallet", CLOSED, 0, amount=50), lot(2, "wallet", OPEN, 10, amount=30),
             lot(3, "wallet", CLOSED, 0, amount=20, expires=AT - dt.timedelta(days=1))]
    draft = LedgerDraft([spent[1]], {("wallet", "available"): 10})
    taken = [(spent[2], 20), (spent[1], 20), (spent[0], 50)]  # last taken first
    draft.give_back("wallet", 60, taken, "why", AT, AT + dt.timedelta(days=90), 7)
    assert [(m.id, back) for m, back in draft.entries[0].moves] == [(2, 20), (1, 40)]  # the expired one skipped
    assert draft.balances[("wallet", "available")] == 70 and not draft.opened

    debt = LedgerDraft([], {("points", "available"): -5})
    debt.give_back("points", 20, [], "why", AT, None, 7)
    [(opened, entry)] = debt.opened
    assert (opened.remaining, opened.state, entry.amount) == (15, OPEN, 20)  # 5 repaid the debt


def test_a_lot_given_back_in_the_same_reversal_can_be_clawed_back_by_a_later_step():
    draft = LedgerDraft([], {("wallet", "available"): 0})
    draft.give_back("wallet", 30, [], "spent", AT, None, 7)
    assert draft.claw_back("wallet", 20, 7, "earned") == 0
    [(opened, _)] = draft.opened
    assert opened.remaining == 10 and draft.balances[("wallet", "available")] == 10
