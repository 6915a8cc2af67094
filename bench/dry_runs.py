"""A purchase's dry run (the till's live preview) for each kind of purchase (issue 11: ≤ 2 ms server time, no
write, no lock): plain, with discount codes (a shared one; a single-use coupon, once per member), a held reward,
gift credit, a gift card, a closed club's candidate and a referred member's first purchase. Each member has a few
purchases behind them. Prints the median wall and CPU milliseconds of each (and the CPU's 10th percentile,
steadier on a busy machine), and its statements. A few seconds, on a fresh database (`--profile KIND` also
writes that kind's cProfile to dry_run_KIND.prof in the current directory):

    VAFA_DATA_DIR=$(mktemp -d) PYTHONPATH=src python3 -m bench.dry_runs [--repeat 200]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import statistics
import time

from bench.setup import django_ready

PROGRAM = {
    "settings": {"currencies": {"points": {"expiry_days": 365, "pending_days": 14}}},
    "rules": [{"id": "base", "kind": "earn", "per": 10_000, "award": 1},
              {"id": "welcome", "kind": "sequence", "steps": [
                  {"code": "OFF", "name": "20,000 off", "gives": "amount_off", "amount": 20_000}]}],
    "tiers": {"basis": "spend", "window_days": 365, "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 5_000_000, "multiplier": 2, "discount_percent": 5}]},
    "loyalty_table": {"rates": [{"points": 10, "value": 1_000}]},
    "referral": {"on": ["signup", "first_purchase"], "referrer": {"currency": "points", "amount": 100},
                 "referee": {"currency": "gift_credit", "amount": 30_000, "expiry_days": 30}},
}
LINES = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000},
         {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 150_000}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile", metavar="KIND", help="also write KIND's cProfile to dry_run_KIND.prof")
    args = parser.parse_args()
    django_ready(migrate=True)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from vafa.ledger.giftcards import issue_gift_card
    from vafa.members.balances import grant_gift_credit
    from vafa.members.services import sign_up
    from vafa.program.services import activate_program
    from vafa.purchases.models import IssuedReward
    from vafa.purchases.services import record_purchase
    from vafa.tenancy.services import create_branch, create_business
    from vafa.vouchers.services import create_code, create_definition, generate_codes

    business = create_business(name="Dry", slug="dry")
    create_branch(business, code="t1", name="One")
    activate_program(business, PROGRAM)
    closed = create_business(name="Closed", slug="closed")
    create_branch(closed, code="t1", name="One")
    activate_program(closed, PROGRAM | {"club": {"kind": "closed", "entry": {"basis": "spend",
                                                                             "threshold": 100_000_000}}})
    create_code(create_definition(business, name="ten", kind="percent", percent="10"), "TENPC")
    coupon = generate_codes(create_definition(business, name="once", kind="fixed", amount=10_000,
                                              max_uses_per_member=1), 1, max_uses=1)[0]
    phones = iter(range(1_000_000, 9_999_999))

    def member_with_history(where, **fields):
        member = sign_up(where, mobile=f"0912{next(phones)}", first_name="M", **fields)
        for i in range(5):
            record_purchase(where, member_id=member.pk, branch_code="t1", receipt=f"H{member.pk}-{i}", total=200_000)
        return member

    regular = member_with_history(business)
    grant_gift_credit(business, amount=100_000, reason="gift", member_ids=[regular.pk],
                      expires_at=timezone.now() + dt.timedelta(days=30), categories=["coffee"])
    card = issue_gift_card(business, amount=1_000_000)
    reward = IssuedReward.objects.filter(member=regular).order_by("pk").first()
    candidate = member_with_history(closed)
    referrer = sign_up(business, mobile=f"0912{next(phones)}", first_name="R")
    referred = sign_up(business, mobile=f"0912{next(phones)}", first_name="F", referral_code=referrer.code,
                       mobile_verified=False)
    cases = {
        "plain": (business, regular, {}),
        "codes": (business, regular, {"codes": ["TENPC"]}),
        "coupon": (business, regular, {"codes": [coupon]}),  # single-use, once per member: the uses read too
        "held_reward": (business, regular, {"rewards": [reward.pk]}),
        "gift_credit": (business, regular, {"redeem_gift_credit": 50_000}),
        "gift_card": (business, regular, {"gift_card": {"code": card.code, "amount": 40_000}}),
        "candidate": (closed, candidate, {}),
        "referred_first_purchase": (business, referred, {}),
    }
    result = {}
    for name, (where, member, options) in cases.items():
        def dry_run():
            return record_purchase(where, member_id=member.pk, branch_code="t1", receipt="DRY", total=350_000,  # noqa: B023
                                   lines=LINES, dry_run=True, **options)  # noqa: B023

        dry_run()  # the program parsed and cached
        with CaptureQueriesContext(connection) as captured:
            dry_run()
        ms, cpu_ms = [], []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            dry_run()
            ms.append((time.perf_counter() - started) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
        result[name] = {"ms_p50": round(statistics.median(ms), 3), "cpu_ms_p50": round(statistics.median(cpu_ms), 3),
                        "cpu_ms_p10": round(statistics.quantiles(cpu_ms, n=10)[0], 3),
                        "statements": len(captured.captured_queries),
                        "writes": sum(not q["sql"].lstrip("(").upper().startswith("SELECT")
                                      for q in captured.captured_queries)}
        if name == args.profile:
            profile = cProfile.Profile()
            profile.runcall(lambda: [dry_run() for _ in range(args.repeat)])
            profile.dump_stats(f"dry_run_{name}.prof")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
