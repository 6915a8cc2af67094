"""Server time of the back office's heaviest pages (issue 14's targets: ≤ 200 ms each): the dashboard, the member
list, a member search by mobile, by name and by card number, and a member page; issue 15's: each report
(≤ 500 ms) and the backtest of a draft (every earn award doubled) over the last 90 days (≤ 60 s, timed through
the same chunks the screen polls, with the slowest chunk: the progress bar moves once a chunk), rendered through
Django's test client (no network, no browser) against the business in the database VAFA_DATA_DIR /
VAFA_DATABASE_URL points at, e.g. the demo or the 1-million-member set of bench/dataset.py:

    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m vafa.cli demo --no-serve --members 20000
    PYTHONPATH=src VAFA_DATA_DIR=/tmp/vafa python3 -m bench.panel_pages [--slug cafe-vafa] [--repeat 15]
        [--only dashboard,member_search] [--backtest-seconds 600]

Prints one JSON object: median and worst milliseconds per page, the member count, and how long the
dashboard_figures and report_rollups jobs take (run first, as the worker would have). A backtest that passes
--backtest-seconds stops there and reports how far it got."""

import argparse
import json
import statistics
import time

from bench.setup import django_ready


def owner_session(parser: argparse.ArgumentParser):
    """A page benchmark's start: its arguments (and --slug), Django on the database built before, that business,
    a client signed in as its owner and a member with purchases."""
    parser.add_argument("--slug", default="cafe-vafa")
    args = parser.parse_args()
    django_ready()
    from vafa.tenancy.models import Business

    business = Business.objects.get(slug=args.slug)
    return (args, business, *owner_client(business))


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


def card_of(business, member):
    """The member's active card, issued through the members service when they have none."""
    from vafa.members.models import Card
    from vafa.members.services import CardIssue, issue_card

    card = Card.objects.filter(business=business, member=member, status=Card.Status.ACTIVE).first()
    return card or issue_card(business, CardIssue.check(member.pk)).card


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
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", default="", help="comma-separated page names (and/or backtest)")
    parser.add_argument("--backtest-seconds", type=float, default=600)
    args, business, client, member = owner_session(parser)
    from django.utils.http import urlencode

    from vafa.members.models import Member
    from vafa.panel.reports import REPORTS
    from vafa.panel.services import refresh_figures
    search = lambda q: "/panel/members/?" + urlencode({"q": q})  # noqa: E731
    pages = {"dashboard": "/panel/", "member_list": "/panel/members/",
             "member_search": search(member.mobile.replace("+98", "0")),
             "member_search_name": search(member.first_name or member.last_name),
             "member_search_card": search(card_of(business, member).number),
             "member_page": f"/panel/members/{member.pk}/"}
    pages |= {f"report_{r.slug}": f"/panel/reports/{r.slug}" for r in REPORTS} | {"report_audit": "/panel/reports/audit"}
    wanted = set(filter(None, args.only.split(",")))
    result: dict = {"members": Member.objects.filter(business=business).count()}
    if not wanted or any(name.startswith("report_") or name == "dashboard" for name in wanted):
        # what the report_rollups job does (for every business: the bench data dir holds one), timed: the first
        # run builds the rollups of the whole history, a later one takes in what came since
        from vafa.panel.rollups import roll_up_reports

        started = time.perf_counter()
        roll_up_reports()
        result["report_rollups_job_s"] = round(time.perf_counter() - started, 2)
    if not wanted or "dashboard" in wanted:  # what the dashboard_figures job does for this business, timed
        started = time.perf_counter()
        refresh_figures(business)
        result["dashboard_job_s"] = round(time.perf_counter() - started, 2)
    for name, path in pages.items():
        if not wanted or name in wanted:
            result[name] = timed(lambda path=path: client.get(path), args.repeat)
    if not wanted or "backtest" in wanted:
        result["backtest_90_days"] = timed_backtest(business, args.backtest_seconds)
    print(json.dumps(result))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the backtest's worker processes)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_backtest(business, budget: float) -> dict:
    """The backtest of a draft doubling every earn rule's award against the active program, chunk by chunk as
    the screen runs it: the whole time, the CPU time (the worker processes' too: the machine is shared), the
    slowest chunk (how long the progress bar stands still) and the start (the window's count)."""
    from vafa.panel import backtest
    from vafa.program.selectors import active_program, context_of
    from vafa.program.services import validate_program

    _, document = active_program(business)
    doubled = document.model_dump(mode="json", exclude_none=True)
    for rule in doubled["rules"]:
        if rule["kind"] == "earn":
            rule["award"] *= 2
    draft = validate_program(doubled)
    ctx = context_of(business)
    started, cpu = time.perf_counter(), cpu_seconds()
    state = backtest.start(business, 90)
    begun = time.perf_counter() - started
    slowest = 0.0
    chunks = 0
    while not state.finished and time.perf_counter() - started < budget:
        chunk = time.perf_counter()
        backtest.advance(state, business, document, draft, ctx)
        slowest = max(slowest, time.perf_counter() - chunk)
        chunks += 1
    if state.finished:
        backtest.compare(state, business, document, draft)
    return {"purchases": state.total, "replayed": state.done, "finished": state.finished,
            "seconds": round(time.perf_counter() - started, 2), "cpu_s": round(cpu_seconds() - cpu, 2),
            "start_s": round(begun, 2), "slowest_chunk_s": round(slowest, 2), "chunks": chunks}

if __name__ == "__main__":
    main()
