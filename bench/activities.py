"""CPU time and statements of a visit, a custom event and a points → wallet conversion (issue 11: every use case
as load → decide → write). Each runs `--repeat` times for one member with some history; prints the CPU
milliseconds a call (process_time, the whole run divided by the calls) and the statements of one call. Then the
balance jobs that grant: a gift-credit grant to `--members` members and the birthday gifts of as many, their
CPU and statements a member. A few seconds, on a fresh database:

    VAFA_DATA_DIR=$(mktemp -d) PYTHONPATH=src python3 -m bench.activities [--repeat 500]

With VAFA_DATABASE_URL set it runs on PostgreSQL (a scratch database: it migrates and writes).
"""

from __future__ import annotations

import argparse
import os
import time

import django

PROGRAM = {
    "settings": {"currencies": {"points": {"expiry_days": 365}, "wallet": {"expiry_days": 90}}},
    "rules": [{"id": "base", "kind": "earn", "per": 10_000, "award": 1},
              {"id": "visit", "kind": "earn", "on": "visit", "basis": "visit", "award": 5},
              {"id": "survey", "kind": "earn", "on": "event", "event": "survey", "basis": "fixed", "award": 7}],
    "tiers": {"basis": "visits", "window_days": 365, "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 100_000}]},
    "loyalty_table": {"rates": [{"points": 10, "value": 1_000}]},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--members", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    os.environ.setdefault("VAFA_DEBUG", "0")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from vafa.members.balances import convert_points_to_wallet, grant_birthday_gifts, grant_gift_credit
    from vafa.members.models import Member
    from vafa.members.services import sign_up
    from vafa.program.services import activate_program
    from vafa.purchases import activities
    from vafa.purchases.services import record_purchase
    from vafa.tenancy.services import create_branch, create_business

    call_command("migrate", interactive=False, verbosity=0)
    business = create_business(name="Activities", slug=f"activities-{os.getpid()}")
    create_branch(business, code="t1", name="One")
    activate_program(business, PROGRAM)
    member = sign_up(business, mobile=f"0912{os.getpid() % 10_000_000:07d}", first_name="M")
    for i in range(5):
        record_purchase(business, member_id=member.pk, branch_code="t1", receipt=f"H-{i}", total=20_000_000)

    calls = {
        "visit (check_in)": lambda: activities.check_in(business, member_id=member.pk, branch_code="t1"),
        "event (record_event)": lambda: activities.record_event(business, member_id=member.pk, name="survey"),
        "conversion (convert_points_to_wallet)": lambda: convert_points_to_wallet(business, member.pk, 10),
    }
    print(f"{connection.vendor}, {args.repeat} calls each")
    for name, call in calls.items():
        call()  # warm: the caches, the accounts
        with CaptureQueriesContext(connection) as queries:
            call()
        start = time.process_time()
        for _ in range(args.repeat):
            call()
        cpu = (time.process_time() - start) / args.repeat * 1000
        print(f"{name:40} {cpu:6.2f} ms CPU a call, {len(queries)} statements")

    crowd = create_business(name="Crowd", slug=f"crowd-{os.getpid()}")
    activate_program(crowd, PROGRAM | {"birthday_gift": {"amount": 20_000}})
    born = timezone.now().date().replace(year=1992)  # the same month, in either calendar (1992: a leap year)
    Member.objects.bulk_create([Member(business=crowd, mobile=f"0913{i:07d}", code=f"C{i:07d}", first_name="M", joined_at=timezone.now(),
                                       birth_date=born) for i in range(args.members)])
    ids = list(Member.objects.filter(business=crowd).values_list("pk", flat=True))
    for name, call in (("gift-credit grant", lambda: grant_gift_credit(crowd, amount=1_000, reason="gift",
                                                                        member_ids=ids, idempotency_key="bench")),
                       ("birthday gifts", lambda: grant_birthday_gifts(timezone.now()))):
        connection.queries_log.clear()  # a bounded log: counted from empty
        with CaptureQueriesContext(connection) as queries:
            start = time.process_time()
            call()
            cpu = (time.process_time() - start) / len(ids) * 1000
        print(f"{name + f' ({len(ids)} members)':40} {cpu:6.2f} ms CPU a member, "
              f"{len(queries) / len(ids):.1f} statements a member")


if __name__ == "__main__":
    main()
