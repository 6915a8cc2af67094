"""A business with some history, and a snapshot of everything a restore must give back. Used in-process and
in `vafa shell -c` subprocesses (with the tests directory on PYTHONPATH), so that a copy made by one process
can be compared with the original from another."""

import copy
import json
from pathlib import Path

from django.db.models import Count, Sum

from conftest import PROGRAM
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances
from vafa.members.models import Member
from vafa.members.services import sign_up
from vafa.program.services import activate_program
from vafa.purchases.models import Purchase
from vafa.purchases.services import record_purchase, return_purchase
from vafa.tenancy.services import create_branch, create_business


def seed(slug: str = "backup-cafe", members: int = 4):
    """Members with purchases that earn points and cashback, a purchase paid partly with points, a return."""
    business = create_business(name="کافه پشتیبان", slug=slug)
    create_branch(business, code="t1", name="تجریش")
    document = copy.deepcopy(PROGRAM)
    document["rules"].append({"id": "cash", "kind": "cashback", "percent": "5"})
    activate_program(business, document)
    for i in range(members):
        member = sign_up(business, mobile=f"0912{5_550_000 + i:07d}", first_name=f"عضو {i}")
        first = buy(business, member, f"R{i}-1", 1_500_000 + 100_000 * i)
        buy(business, member, f"R{i}-2", 800_000, redeem_points=100)
        return_purchase(business, first["purchase_id"], amount=500_000, reason="مرجوعی")
    return business


def buy(business, member, receipt: str, total: int, **kw) -> dict:
    return record_purchase(business, member_id=member.pk, branch_code="t1", receipt=receipt, total=total,
                           **kw)


def write_until(stop: str, ready: str) -> None:
    """Keep writing purchases (and every fifth a return) until the file `stop` exists; say how many."""
    business = seed(slug="busy", members=3)
    members = list(Member.objects.filter(business=business))
    Path(ready).touch()
    written = 0
    while not Path(stop).exists():
        result = buy(business, members[written % 3], f"W{written}", 200_000 + written)
        if written % 5 == 4:
            return_purchase(business, result["purchase_id"], amount=100_000)
        written += 1
    print(json.dumps({"written": written}))


def snapshot() -> dict:
    """Every member's balances, and the entries and purchases in numbers."""
    members = Member.objects.select_related("business").order_by("business__slug", "mobile")
    return {
        "balances": {f"{m.business.slug}/{m.mobile}": balances(m) for m in members},
        "entries": [list(row) for row in Entry.objects.values_list("kind", "currency")
                    .annotate(n=Count("id"), amount=Sum("amount")).order_by("kind", "currency")],
        "entry_count": Entry.objects.count(),
        "purchases": Purchase.objects.count(),
    }
