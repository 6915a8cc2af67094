"""Server time of the till's live preview (issue 16's target: ≤ 100 ms): the purchase service's dry run for a
member with history, rendered as the HTMX partial, through Django's test client (no network, no browser) against
the business in the database VAFA_DATA_DIR / VAFA_DATABASE_URL points at, e.g. the demo:

    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m vafa.cli demo --no-serve --members 2000
    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m bench.till_preview [--slug cafe-vafa] [--repeat 30] [--member ID]

Prints one JSON object: the first preview of the process (cold), then median and worst milliseconds of the
preview and of the member panel."""

import argparse
import json

from bench.panel_pages import owner_session, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--member", type=int, help="this member's id (default: the first with a purchase)")
    args, business, client, member = owner_session(parser)
    from vafa.members.models import Member
    from vafa.purchases.models import Purchase
    from vafa.tenancy.models import Branch
    if args.member:
        member = Member.objects.get(business=business, pk=args.member)
    branch = Branch.objects.filter(business=business).order_by("id").first()
    amounts = iter(range(100_000, 100_000_000, 10_000))
    base = f"/till/{branch.code}/m/{member.pk}/"
    preview = lambda: client.post(base + "preview", {"receipt": "BENCH-1", "total": str(next(amounts))})  # noqa: E731
    first = timed(preview, 1)["max_ms"]  # the process's first request: imports, the program parsed and cached
    result = {
        "members": Member.objects.filter(business=business).count(),
        "purchases": Purchase.objects.filter(business=business).count(),
        "member_purchases": Purchase.objects.filter(business=business, member=member).count(),
        "preview_first_ms": first,
        "preview": timed(preview, args.repeat),
        "member_panel": timed(lambda: client.get(base), args.repeat),
    }
    before = Purchase.objects.filter(business=business).count()
    assert before == result["purchases"], "a preview wrote a purchase"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
