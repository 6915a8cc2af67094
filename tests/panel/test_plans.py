"""The paid plans screen with Django's test client: plans from the active program with their subscribers; a plan
created or edited as a new program version (the owner's, as PUT /api/v1/program); a member subscribed and a
renewal stopped (write scope, as in the API); bad input writes nothing and says why beside the field."""

import re

import pytest
from tests.clubs.conftest import VIP
from tests.conftest import PROGRAM

from vafa.clubs.models import Subscription
from vafa.clubs.services import subscribe
from vafa.members.balances import adjust
from vafa.program.models import ProgramVersion
from vafa.program.selectors import active_program

pytestmark = pytest.mark.django_db

NEW_PLAN = {"code": "gold", "name_fa": "طلایی", "name_en": "Gold", "price": "۲۰۰٬۰۰۰", "period": "monthly",
            "multiplier": "۱.۵", "discount_percent": "5", "reminder_days": "3", "perks": "قهوه رایگان\nپارکینگ"}


@pytest.fixture
def with_vip(program):
    return program(PROGRAM | {"plans": [VIP]})


def test_the_owner_creates_a_plan_as_a_new_program_version(signed_in, business):
    client = signed_in("owner")
    before, _ = active_program(business)
    assert client.post("/panel/rewards/plans/new", NEW_PLAN).status_code == 302
    version, document = active_program(business)
    plan = document.plan("gold")
    assert version.version == before.version + 1 and plan.price == 200_000 and str(plan.multiplier) == "3/2"
    assert plan.name == {"fa": "طلایی", "en": "Gold"} and plan.perks == ["قهوه رایگان", "پارکینگ"]
    assert document.rules == active_program(business)[1].rules  # the rest of the program is untouched
    html = client.get("/panel/rewards/plans/").content.decode()
    assert 'data-testid="plan-gold"' in html and "۲۰۰٬۰۰۰" in html and "قهوه رایگان" in html
    assert "۱.۵ برابر امتیاز" in html and "۵٪ تخفیف هر خرید" in html


def test_edit_a_plan_keeps_its_code_and_the_other_plans(signed_in, business, with_vip):
    client = signed_in("owner")
    form = client.get("/panel/rewards/plans/vip/edit").content.decode()
    assert 'value="ویژه"' in form and "ارسال رایگان" in form and "disabled" in form
    data = {"code": "other", "name_fa": "ویژه", "name_en": "VIP", "price": "600000", "period": "yearly",
            "multiplier": "2", "discount_percent": "10", "reminder_days": "7", "perks": "ارسال رایگان"}
    assert client.post("/panel/rewards/plans/vip/edit", data).status_code == 302
    _, document = active_program(business)
    assert [p.code for p in document.plans] == ["vip"] and document.plans[0].price == 600_000
    assert document.plans[0].period == "yearly"


@pytest.mark.parametrize("language", ["fa", "en"])
def test_a_bad_plan_writes_nothing_and_says_why_beside_the_field(signed_in, business, operator, client, language):
    owner = operator("owner")
    owner.language = language
    owner.save()
    client.force_login(owner.user)
    before = ProgramVersion.objects.count()
    html = client.post("/panel/rewards/plans/new", NEW_PLAN | {"code": "Not A Code", "multiplier": "0",
                                                               "price": "abc"}).content.decode()
    assert re.search(r'data-testid="error-price">', html)
    html = client.post("/panel/rewards/plans/new", NEW_PLAN | {"code": "Not A Code",
                                                               "discount_percent": "150"}).content.decode()
    code_error = re.search(r'data-testid="error-code">([^<]*)', html).group(1)
    assert code_error and "^[a-z0-9]" in code_error or "should" in code_error or "باید" in code_error
    assert "discount_percent" in html  # the program's own sentence, beside the form
    assert ProgramVersion.objects.count() == before


def test_a_taken_code_is_refused_beside_the_code(signed_in, with_vip):
    before = ProgramVersion.objects.count()
    html = signed_in("owner").post("/panel/rewards/plans/new", NEW_PLAN | {"code": "vip"}).content.decode()
    assert re.search(r'data-testid="error-code">این کد قبلاً تعریف شده است', html)
    assert ProgramVersion.objects.count() == before


@pytest.mark.parametrize("role", ["manager", "analyst", "cashier"])
def test_only_the_owner_changes_plans(signed_in, with_vip, role):
    client = signed_in(role, branch="t1" if role == "cashier" else None)
    before = ProgramVersion.objects.count()
    assert client.get("/panel/rewards/plans/").status_code == 200  # GET /plans: read scope
    assert client.get("/panel/rewards/plans/new").status_code == 403
    assert client.post("/panel/rewards/plans/vip/edit", {"name_fa": "x", "price": "1"}).status_code == 403
    assert ProgramVersion.objects.count() == before


def test_subscribe_a_member_from_the_wallet_then_stop_renewal(signed_in, business, member, with_vip):
    adjust(business, member.pk, "wallet", 600_000, reason="شارژ")
    client = signed_in("cashier", branch="t1")  # POST /members/{id}/subscriptions: write scope
    response = client.post("/panel/rewards/plans/", {"sub-member": member.code, "sub-plan": "vip",
                                                     "sub-payment": "wallet", "sub-auto_renew": "yes"})
    assert response.status_code == 302
    subscription = Subscription.objects.get()
    assert (subscription.plan, subscription.price, subscription.auto_renew) == ("vip", 500_000, True)
    html = client.get("/panel/rewards/plans/?plan=vip&status=active").content.decode()
    assert "۱ مشترک" in html and f"/panel/members/{member.pk}/" in html
    assert f"/panel/rewards/plans/?q={member.code}" in client.get(f"/panel/members/{member.pk}/").content.decode()
    assert f"/panel/members/{member.pk}/" in client.get(f"/panel/rewards/plans/?q={member.code}").content.decode()
    assert client.post(f"/panel/rewards/subscriptions/{subscription.pk}/stop-renewal").status_code == 302
    subscription.refresh_from_db()
    assert subscription.auto_renew is False and subscription.status == "active"


def test_a_refused_subscription_writes_nothing_and_says_why(signed_in, business, member, with_vip):
    client = signed_in("owner")
    html = client.post("/panel/rewards/plans/", {"sub-member": member.code, "sub-plan": "vip",
                                                 "sub-payment": "wallet", "sub-auto_renew": "yes"}).content.decode()
    assert "موجودی کافی نیست" in html
    html = client.post("/panel/rewards/plans/", {"sub-member": "NOPE", "sub-plan": "vip",
                                                 "sub-payment": "wallet", "sub-auto_renew": "yes"}).content.decode()
    assert re.search(r'data-testid="error-member">عضو پیدا نشد', html)
    assert not Subscription.objects.exists()


def test_an_analyst_sees_subscribers_but_cannot_subscribe_or_stop(signed_in, business, member, with_vip):
    subscription = subscribe(business, member.pk, "vip", payment="external")
    client = signed_in("analyst")
    html = client.get("/panel/rewards/plans/").content.decode()
    assert 'data-testid="subscribe-form"' not in html and "stop-renewal" not in html
    assert client.post("/panel/rewards/plans/", {"sub-member": member.code, "sub-plan": "vip",
                                                 "sub-payment": "external", "sub-auto_renew": "no"}).status_code == 403
    assert client.post(f"/panel/rewards/subscriptions/{subscription['id']}/stop-renewal").status_code == 403
    assert Subscription.objects.get().auto_renew is True and Subscription.objects.count() == 1


@pytest.mark.parametrize("language", ["fa", "en"])
def test_the_member_page_names_a_plan_in_the_operators_language(business, member, operator, client, program,
                                                               language):
    program(PROGRAM | {"plans": [VIP | {"name": {"fa": "ویژه", "en": "Premium"}}]})
    subscribe(business, member.pk, "vip", payment="external")
    owner = operator("owner")
    owner.language = language
    owner.save()
    client.force_login(owner.user)
    html = client.get(f"/panel/members/{member.pk}/").content.decode()
    shown = re.search(r'data-testid="member-plans">.*?</a></h2><div>([^<·]*) ·', html)[1]
    assert shown == {"fa": "ویژه", "en": "Premium"}[language]


def test_perks_keep_both_languages_through_an_edit_in_english(business, operator, client):
    owner = operator("owner")
    client.force_login(owner.user)
    client.post("/panel/rewards/plans/new", NEW_PLAN | {"perks_en": "Free coffee\nParking"})
    _, document = active_program(business)
    assert document.plan("gold").perks == [{"fa": "قهوه رایگان", "en": "Free coffee"},
                                           {"fa": "پارکینگ", "en": "Parking"}]
    owner.language = "en"
    owner.save()
    form = client.get("/panel/rewards/plans/gold/edit").content.decode()
    assert "قهوه رایگان\nپارکینگ</textarea>" in form and "Free coffee\nParking</textarea>" in form


def test_english_perks_must_match_the_persian_ones_line_for_line(signed_in, business):
    before = ProgramVersion.objects.count()
    html = signed_in("owner").post("/panel/rewards/plans/new", NEW_PLAN | {"perks_en": "Free coffee"}).content.decode()
    assert re.search(r'data-testid="error-perks_en">برای هر مزیت فارسی یک سطر انگلیسی', html)
    assert ProgramVersion.objects.count() == before
