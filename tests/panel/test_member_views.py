"""The member page words each stored reason in the operator's language (reasons are data)."""

from django.db import transaction

from vafa.core.reasons import Reason
from vafa.ledger import services as ledger
from vafa.members.services import lock_member

EARNED = Reason("earn.amount", {"amount": 1_500, "currency": "points", "award": 10, "per": 100_000,
                                "basis": 15_000_000, "money": "IRT"})


def test_the_language_switch_rewords_stored_reasons(signed_in, business, member):
    with transaction.atomic():
        ledger.credit(lock_member(member.pk, business.pk), "points", 1_500, reason=EARNED)
    client = signed_in("owner")
    persian = client.get(f"/panel/members/{member.pk}/").content.decode()
    client.post("/panel/language", {"language": "en", "next": "/panel/"})
    english = client.get(f"/panel/members/{member.pk}/").content.decode()

    fa = "۱٬۵۰۰ امتیاز: ۱۰ امتیاز به ازای هر ۱۰۰٬۰۰۰ تومان خرید (مبنا ۱۵٬۰۰۰٬۰۰۰ تومان)"
    en = "1,500 points: 10 points per 100,000 Toman spent (on 15,000,000 Toman)"
    assert fa in persian and en not in persian
    assert en in english and fa not in english
