"""The API words a stored reason in the caller's language: Accept-Language, else the business's; the code and
its parameters travel beside it."""

from django.db import transaction

from vafa.core.reasons import Reason
from vafa.ledger import services as ledger
from vafa.members.services import lock_member


def test_the_same_entry_in_persian_and_english(reader, business, member):
    with transaction.atomic():
        ledger.credit(lock_member(member.pk, business.pk), "points", 1_200, reason=Reason(
            "referral.referrer", {"name": "Sara"}))
        ledger.debit(lock_member(member.pk, business.pk), "points", 1_200, reason=Reason(
            "purchase.paid", {"amount": 1_200, "currency": "points", "money": "IRT", "receipt": "R-9"}))
    path = f"/members/{member.pk}/ledger"
    persian = reader.get(path).json()["items"][0]  # no header: the business's language
    english = reader.get(path, headers={"Accept-Language": "en-US,en;q=0.9"}).json()["items"][0]
    assert persian["reason"] == "پرداخت ۱٬۲۰۰ امتیاز برای رسید R-9"
    assert english["reason"] == "paid 1,200 points on receipt R-9"
    assert (english["reason_code"], english["reason_params"]) == (
        "purchase.paid", {"amount": 1_200, "currency": "points", "money": "IRT", "receipt": "R-9"})
