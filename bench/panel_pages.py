"""Server time of the back office's heaviest pages (issue 14's targets: ≤ 200 ms each): the dashboard, a member
search by mobile and a member page; issue 15's: each report (≤ 500 ms) and the backtest of the active program
against itself over the last 90 days (≤ 60 s, timed through the same chunks the screen polls), rendered through Django's test client (no network, no browser) against
the business in the database VAFA_DATA_DIR / VAFA_DATABASE_URL points at, e.g. the demo:

    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m vafa.cli demo --no-serve --members 20000
    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m bench.panel_pages [--slug cafe-vafa] [--repeat 15]

Prints one JSON object: median and worst milliseconds per page, and the member count."""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")


def owner_client(business):
    """A test client signed in as the business's owner, and a member who has purchases."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from vafa.access.models import Operator, Role
    from vafa.access.services import make_operator
    from vafa.members.models import Member
    from vafa.purchases.models import Purchase

    owner = Operator.objects.filter(business=business, role=Role.OWNER, active=True).select_related("user").first()
    if owner is None:
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{business.slug}")
        owner = make_operator(business, user, role=Role.OWNER)
    client = Client()
    client.force_login(owner.user)
    busiest = (Purchase.objects.filter(business=business).values("member_id").order_by("member_id")
               .first() or {}).get("member_id")
    member = Member.objects.get(pk=busiest) if busiest else Member.objects.filter(business=business).first()
    return client, member


def timed(call, repeat: int) -> dict:
    """Median and worst milliseconds of `repeat` calls; each must answer 200."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def main() -> None:
    import django

    django.setup()
    from vafa.members.models import Member
    from vafa.panel import backtest
    from vafa.panel.reports import REPORTS
    from vafa.program.selectors import active_program, context_of
    from vafa.tenancy.models import Business

    parser = argparse.ArgumentParser()
    parser.add_argument("--slug", default="cafe-vafa")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    business = Business.objects.get(slug=args.slug)
    client, member = owner_client(business)
    pages = {"dashboard": "/panel/", "member_search": f"/panel/members/?q={member.mobile.replace('+98', '0')}",
             "member_page": f"/panel/members/{member.pk}/"}
    pages |= {f"report_{r.slug}": f"/panel/reports/{r.slug}" for r in REPORTS} | {"report_audit": "/panel/reports/audit"}
    result: dict = {"members": Member.objects.filter(business=business).count()}
    for name, path in pages.items():
        result[name] = timed(lambda path=path: client.get(path), args.repeat)
    _, document = active_program(business)
    started = time.perf_counter()
    state, _ = backtest.run(business, document, document, context_of(business), days=90)
    result["backtest_90_days"] = {"purchases": state.total, "seconds": round(time.perf_counter() - started, 2),
                                  "chunks": -(-state.total // backtest.CHUNK)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
