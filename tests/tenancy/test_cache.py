"""The business row kept per process (tenancy.cache): an edit is seen at once by the process that made it, and
by any other at its next check: at once by a request that reads the cache token beside its own row (the balance
read, a validation), within CHECK_SECONDS by any other. Another process's edit is the row and token it writes,
with none of this process's signals."""

import secrets

import pytest
from django.db.models import BigAutoField, CharField, DateTimeField, IntegerField, TextField
from tests.api.conftest import ApiClient

from vafa.access.services import create_api_key
from vafa.tenancy import cache
from vafa.tenancy.models import Business
from vafa.tenancy.services import update_business


def edited_elsewhere(business, **changes) -> None:
    """What Business.save in another process writes: the changes and a new token."""
    Business.objects.filter(pk=business.pk).update(cache_token=secrets.randbits(62), **changes)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: now[0])
    return now


@pytest.mark.django_db
def test_an_edit_in_this_process_is_seen_at_once(business, clock):
    assert cache.business_of(business.pk).language == "fa"
    update_business(Business.objects.get(pk=business.pk), language="en")
    assert cache.business_of(business.pk).language == "en"


@pytest.mark.django_db
def test_an_edit_in_another_process_is_seen_within_the_check(business, clock, django_assert_num_queries):
    kept = cache.business_of(business.pk)
    edited_elsewhere(business, language="en")
    clock[0] += cache.CHECK_SECONDS / 2
    with django_assert_num_queries(0):
        assert cache.business_of(business.pk).language == kept.language == "fa"  # the copy, unchecked for a moment
    clock[0] += cache.CHECK_SECONDS
    assert cache.business_of(business.pk).language == "en"


@pytest.mark.django_db
def test_a_token_read_beside_a_row_confirms_or_replaces_the_copy(business, clock, django_assert_num_queries):
    kept = cache.business_of(business.pk)
    with django_assert_num_queries(0):
        assert cache.business_of(business.pk, kept.cache_token).cache_token == kept.cache_token
    edited_elsewhere(business, language="en")
    token = Business.objects.get(pk=business.pk).cache_token
    assert cache.business_of(business.pk, token).language == "en"


@pytest.mark.django_db
def test_the_balance_read_and_a_validation_see_another_process_edit_at_once(business, member, clock):
    client = ApiClient(create_api_key(business, scope="write")[1])
    body = {"code": "NONE", "member_id": member.pk, "branch": "t1",
            "items": [{"sku": "ESP", "category": "coffee", "quantity": 1, "unit_price": 100}]}
    assert client.get(f"/members/{member.pk}/balance").status_code == 200
    assert client.post("/vouchers/validate", body).json()["message"] == "چنین کدی وجود ندارد"
    edited_elsewhere(business, language="en")  # no time passes: only the token tells
    assert client.post("/vouchers/validate", body).json()["message"] == "there is no such code"
    edited_elsewhere(business, language="fa")
    assert client.get(f"/members/{member.pk}/balance").status_code == 200
    assert cache.business_of(business.pk).language == "fa"


@pytest.mark.django_db
def test_each_caller_gets_a_copy_of_its_own(business, clock, django_assert_num_queries):
    mine = cache.business_of(business.pk)
    mine.language, mine.name = "en", "half-way through an edit"
    with django_assert_num_queries(0):
        theirs = cache.business_of(business.pk)
    assert (theirs.language, theirs.name) == ("fa", business.name) and theirs is not mine
    assert not theirs._state.adding and theirs._state.db == "default"
    # a shallow copy is a whole one only while no field holds something changeable in place (a dict, a list)
    assert all(isinstance(field, (CharField, TextField, IntegerField, DateTimeField, BigAutoField))
               for field in Business._meta.concrete_fields), "tenancy.cache._own_copy must copy the new field"


@pytest.mark.django_db
def test_every_save_writes_a_new_token(business):
    before = Business.objects.get(pk=business.pk).cache_token
    business.save(update_fields=["name"])
    assert Business.objects.get(pk=business.pk).cache_token not in (0, before)
