"""till.services: a refused offline purchase keeps why as a reason, worded in each reader's language; the
manager sends it again through the same purchase use case once the cause is fixed."""

import datetime as dt

import pytest

from vafa.core.actor import Actor
from vafa.core.errors import Conflict, NotFound
from vafa.ledger.models import Entry
from vafa.ledger.selectors import balances
from vafa.members.services import MemberUpdate, update_member
from vafa.purchases.models import Purchase
from vafa.purchases.services import PurchaseInput, record
from vafa.tenancy.models import Branch
from vafa.till.models import SyncProblem
from vafa.till.services import send_again, sync_offline_purchase


def _send(business, member, language: str) -> dict:
    return sync_offline_purchase(business, Branch.objects.get(business=business, code="t1"), key="k-1",
                                 member_id=member.pk, receipt="SYNC-1", total=1000, redeem_wallet=500,
                                 occurred_at=None, actor=Actor("operator", "1", "cashier"), language=language)


def test_a_refusal_is_stored_as_data_and_worded_for_each_reader(business, member):
    first = _send(business, member, "fa")  # no offline allowance: refused
    problem = SyncProblem.objects.get()
    assert (problem.reason_code, problem.reason_params) == ("till.refused", {"detail": "offline_allowance_exceeded"})
    assert first["reason"] == problem.reason_in("fa") == "اعتبار خرج‌شده در حالت آفلاین بیش از سقف مجاز کسب‌وکار است"
    again = _send(business, member, "en")  # the same key sent again, read by an English operator
    assert again["reason"] == "More credit was spent offline than the business allows"
    assert SyncProblem.objects.count() == 1


# --- sending a problem's purchase again -------------------------------------------------------------------------

MANAGER = Actor("operator", "2", "manager-all")


def _blocked_problem(business, member) -> SyncProblem:
    """A purchase the till sent while the member was blocked: refused, kept as an open problem."""
    update_member(business, MemberUpdate.check(business, member.pk, status="blocked"))
    sent = sync_offline_purchase(business, Branch.objects.get(business=business, code="t1"), key="k-9",
                                 member_id=member.pk, receipt="SYNC-9", total=200_000, redeem_wallet=0,
                                 occurred_at=dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC),
                                 actor=Actor("operator", "1", "cashier"), language="fa")
    assert sent["code"] == "member_blocked"
    return SyncProblem.objects.get()


def test_sent_again_after_the_cause_is_fixed_records_the_purchase_and_resolves(business, member):
    problem = _blocked_problem(business, member)
    update_member(business, MemberUpdate.check(business, member.pk, status="active"))
    done = send_again(business, problem.pk, actor=MANAGER)
    purchase = Purchase.objects.get()
    assert (purchase.receipt, purchase.total, purchase.channel, purchase.branch.code) == (
        "SYNC-9", 200_000, "till-offline", "t1")
    assert purchase.occurred_at == dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC)  # when the till registered it
    assert purchase.actor_label == "manager-all"
    assert balances(member)["points"]["available"] > 0
    problem.refresh_from_db()
    assert (problem.status, problem.settled_by, problem.sent_again_by) == ("resolved", "manager-all", "manager-all")
    assert problem.settled_at and problem.sent_again_at and done.status == "resolved"
    assert (problem.sent_again_code, problem.sent_again_params) == (
        "till.sent_again", {"purchase_id": purchase.pk, "replayed": False})
    assert problem.sent_again_in("fa") == "دوباره ارسال شد و خرید ثبت شد"
    assert problem.sent_again_in("en") == "Sent again: the purchase was recorded"
    assert (problem.reason_code, problem.code) == ("till.refused", "member_blocked")  # what the till was told
    with pytest.raises(Conflict, match="already_done"):  # settled: a second click sends nothing
        send_again(business, problem.pk, actor=MANAGER)
    assert Purchase.objects.count() == 1


def test_a_purchase_that_landed_meanwhile_is_a_replay_not_a_double(business, member):
    problem = _blocked_problem(business, member)
    update_member(business, MemberUpdate.check(business, member.pk, status="active"))
    # the same purchase with the till's key went through by another way (a resend from a second tab)
    landed = record(business, PurchaseInput(member_id=member.pk, branch_code="t1", receipt="SYNC-9", total=200_000,
                                            occurred_at=dt.datetime(2026, 11, 29, 9, 30, tzinfo=dt.UTC),
                                            channel="till-offline"), idempotency_key="k-9")
    entries, points = Entry.objects.count(), balances(member)["points"]["available"]
    send_again(business, problem.pk, actor=MANAGER)
    problem.refresh_from_db()
    assert Purchase.objects.count() == 1 and Entry.objects.count() == entries
    assert balances(member)["points"]["available"] == points
    assert (problem.status, problem.sent_again_params) == ("resolved", {"purchase_id": landed["purchase_id"],
                                                                        "replayed": True})
    assert problem.sent_again_in("fa") == "دوباره ارسال شد؛ این خرید پیش‌تر ثبت شده بود"


def test_refused_again_stays_open_with_the_new_refusal_beside_the_first(business, member):
    problem = _blocked_problem(business, member)
    send_again(business, problem.pk, actor=MANAGER)  # still blocked
    problem.refresh_from_db()
    assert problem.status == "open" and not problem.settled_by and problem.sent_again_by == "manager-all"
    assert problem.sent_again_in("en") == "Sent again and refused again: This member is blocked"
    assert problem.sent_again_in("fa").startswith("دوباره ارسال شد و باز پذیرفته نشد: ")
    # unblocked, but the offline allowance was lowered meanwhile: a different refusal, still open
    update_member(business, MemberUpdate.check(business, member.pk, status="active"))
    SyncProblem.objects.filter(pk=problem.pk).update(payload=problem.payload | {"redeem_wallet": 5_000})
    send_again(business, problem.pk, actor=MANAGER)
    problem.refresh_from_db()
    assert problem.status == "open" and problem.sent_again_params["refusal"]["params"]["detail"] == (
        "offline_allowance_exceeded")
    assert problem.code == "member_blocked" and not Purchase.objects.exists()


def test_send_again_only_within_the_business_and_the_operators_branches(business, other_business, member):
    problem = _blocked_problem(business, member)
    update_member(business, MemberUpdate.check(business, member.pk, status="active"))
    with pytest.raises(NotFound):
        send_again(other_business, problem.pk, actor=MANAGER)
    v2 = Branch.objects.get(business=business, code="v2")
    with pytest.raises(NotFound):
        send_again(business, problem.pk, actor=MANAGER, branch_ids=[v2.pk])
    assert SyncProblem.objects.get().status == "open" and not Purchase.objects.exists()
