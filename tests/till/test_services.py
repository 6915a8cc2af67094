"""till.services: a refused offline purchase keeps why as a reason, worded in each reader's language."""

from vafa.core.actor import Actor
from vafa.tenancy.models import Branch
from vafa.till.models import SyncProblem
from vafa.till.services import sync_offline_purchase


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
