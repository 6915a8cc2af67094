"""Proof that the cached balances and the lots agree with the append-only entries."""

from collections import defaultdict

from vafa.ledger.models import Account, Entry, GiftCard, GiftCardMovement, Lot, LotMovement
from vafa.ledger.selectors import exact_sums


def check_ledger(business_id: int | None = None) -> list[str]:
    """Every problem found, as readable lines; an empty list means the ledger is consistent."""
    problems: list[str] = []
    accounts = Account.objects.all()
    entries = Entry.objects.all()
    lots = Lot.objects.all()
    movements = LotMovement.objects.all()
    if business_id is not None:
        accounts = accounts.filter(business_id=business_id)
        entries = entries.filter(business_id=business_id)
        lots = lots.filter(business_id=business_id)
        movements = movements.filter(business_id=business_id)

    credits = exact_sums(entries, ("credit_id",), "amount")
    debits = exact_sums(entries, ("debit_id",), "amount")
    open_lots: dict[tuple, int] = defaultdict(int)
    for (member_id, currency, state), remaining in exact_sums(lots.exclude(state=Lot.State.CLOSED),
                                                              ("member_id", "currency", "state"),
                                                              "remaining").items():
        open_lots[(member_id, currency, "pending" if state == Lot.State.PENDING else "available")] += remaining
    totals: dict[tuple, int] = defaultdict(int)
    for account in accounts.iterator(chunk_size=5000):
        from_entries = credits.get(account.pk, 0) - debits.get(account.pk, 0)
        totals[(account.business_id, account.currency)] += from_entries
        if account.member_id is None:
            continue  # a business account's balance is not cached: it is its entries (ledger.services._post)
        if from_entries != account.balance:
            problems.append(f"account {account.code}: cached balance {account.balance} != entries {from_entries}")
        in_lots = open_lots.pop((account.member_id, account.currency, account.kind), 0)
        expected = max(account.balance, 0)
        if in_lots != expected:
            problems.append(f"account {account.code}: lots hold {in_lots}, balance {account.balance}")
        if account.kind == Account.Kind.PENDING and account.balance < 0:
            problems.append(f"account {account.code}: pending balance is negative")
    for key, amount in open_lots.items():
        if amount:
            problems.append(f"member {key[0]} {key[1]} {key[2]}: lots hold {amount} without an account")
    for (business, currency), total in totals.items():
        if total != 0:
            problems.append(f"business {business} {currency}: accounts sum to {total}, not 0")
    by_lot = exact_sums(movements, ("lot_id",), "amount")
    for lot_id, remaining in lots.values_list("id", "remaining").iterator(chunk_size=5000):
        if by_lot.get(lot_id, 0) != remaining:
            problems.append(f"lot {lot_id}: remaining {remaining} != its movements {by_lot.get(lot_id, 0)}")

    cards = GiftCard.objects.all() if business_id is None else GiftCard.objects.filter(business_id=business_id)
    moved = exact_sums(GiftCardMovement.objects.filter(card__in=cards), ("card_id",), "amount")
    for card_id, balance in cards.values_list("id", "balance"):
        if moved.get(card_id, 0) != balance:
            problems.append(f"gift card {card_id}: balance {balance} != its movements {moved.get(card_id, 0)}")
    negative = accounts.filter(member__isnull=False, balance__lt=0).exclude(currency="points")
    for account in negative:
        problems.append(f"account {account.code}: negative balance {account.balance} (only points may carry a debt)")
    return problems
