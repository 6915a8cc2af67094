"""The per-process cache of a business's program and branches (program.cache) never serves an old copy: another
process's activation or new branch shows in the cache token read beside the member, so the next purchase (or
dry run) uses what is current. Another process is simulated by putting back the copy cached before the change."""

import copy

from tests.conftest import PROGRAM

from vafa.program import cache
from vafa.program.services import activate_program
from vafa.purchases.services import record_purchase
from vafa.tenancy.services import create_branch


def buy(business, member, receipt: str, branch: str = "t1", **extra) -> dict:
    return record_purchase(business, member_id=member.pk, branch_code=branch, receipt=receipt, total=1_000_000,
                           **extra)


def test_an_activation_elsewhere_is_used_by_the_next_purchase(business, member):
    first = buy(business, member, "C-1")
    elsewhere = dict(cache._setups)  # what this process holds before another one activates
    doubled = copy.deepcopy(PROGRAM)
    doubled["rules"][0]["award"] = 20
    activate_program(business, doubled)
    cache._setups.clear()
    cache._setups.update(elsewhere)
    assert cache.setup_of(business).version.version == first["program_version"]  # the old copy, until checked
    preview = buy(business, member, "C-2", dry_run=True)
    second = buy(business, member, "C-2")
    assert preview["program_version"] == second["program_version"] == first["program_version"] + 1
    earned = [effect["amount"] for effect in second["effects"] if effect["rule_id"] == "base"]
    assert earned == [200] and [e["amount"] for e in first["effects"] if e["rule_id"] == "base"] == [100]


def test_a_branch_opened_elsewhere_takes_purchases(business, member):
    buy(business, member, "B-1")
    elsewhere = dict(cache._setups)
    create_branch(business, code="n3", name="New")
    cache._setups.clear()
    cache._setups.update(elsewhere)
    assert buy(business, member, "B-2", branch="n3")["branch"] == "n3"


def test_a_warm_cache_reads_neither_program_nor_branches(business, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    buy(business, member, "W-1")
    with CaptureQueriesContext(connection) as queries:
        buy(business, member, "W-2")
    tables = " ".join(q["sql"] for q in queries)
    assert "program_programversion" not in tables and "tenancy_branch" not in tables


def test_a_branch_edited_in_django_admin_is_seen_by_the_next_purchase(business, member, client):
    from django.contrib.auth import get_user_model

    from vafa.tenancy.models import Branch

    buy(business, member, "A-1")
    elsewhere = dict(cache._setups)
    get_user_model().objects.create_superuser("root", "root@example.com", "a long password 123")
    client.login(username="root", password="a long password 123")
    branch = Branch.objects.get(business=business, code="t1")
    response = client.post(f"/admin/tenancy/branch/{branch.pk}/change/",
                           {"name": "Closed", "address": "", "active": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    cache._setups.clear()
    cache._setups.update(elsewhere)  # this process still holds the branch as active
    assert cache.setup_of(business).branches["t1"].active
    buy(business, member, "A-2", dry_run=True)
    assert not cache.setup_of(business).branches["t1"].active


def test_what_is_worked_out_from_a_program_is_kept_per_version(business, member):
    """program.derived: a place per held program, kept while it is held; an activation is a new document with
    a place of its own (the old one's dropped); any other document gets a new empty place each time."""
    from vafa.program import derived

    buy(business, member, "D-1")
    old = cache.setup_of(business).document
    derived.of(old)["mark"] = 1
    assert derived.of(old)["mark"] == 1
    doubled = copy.deepcopy(PROGRAM)
    doubled["rules"][0]["award"] = 20
    activate_program(business, doubled)
    buy(business, member, "D-2")  # sees the new token, reloads
    current = cache.setup_of(business).document
    assert current is not old and "mark" not in derived.of(current) and "mark" not in derived.of(old)
    draft = copy.deepcopy(current)
    derived.of(draft)["mark"] = 1
    assert derived.of(draft) == {}
