"""members.locks: the member's hand-written read builds the same Member the ORM does, on both databases."""

import datetime as dt

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from tests.conftest import is_postgres, postgres_only

from vafa.core.errors import NotFound
from vafa.core.sql import read_all
from vafa.members.locks import lock_member, member_of, read_statement
from vafa.members.models import Member
from vafa.tenancy.models import Business


def _fields(member: Member) -> dict:
    return {field.attname: getattr(member, field.attname) for field in Member._meta.concrete_fields}


@pytest.fixture
def full_member(member):
    """A member with every kind of column filled: dates, moments, JSON, booleans, a referrer."""
    Member.objects.filter(pk=member.pk).update(
        birth_date=dt.date(1990, 3, 21), interests=["coffee", {"fa": "کتاب"}], mobile_verified=False,
        tier="silver", tier_since=dt.datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC),
        plan_expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), referred_by=member)
    return Member.objects.get(pk=member.pk)


@pytest.mark.django_db(transaction=True)
def test_the_locked_read_is_the_orm_member_with_the_cache_token(business, full_member):
    token = Business.objects.get(pk=business.pk).cache_token
    with transaction.atomic():
        with CaptureQueriesContext(transaction.get_connection()) as captured:
            locked = lock_member(full_member.pk, business.pk, token=True)
        assert not hasattr(lock_member(full_member.pk, business.pk), "cache_token")
    assert _fields(locked) == _fields(full_member)
    assert locked.cache_token == token
    assert not locked._state.adding and locked._state.db == "default"
    assert len(captured.captured_queries) == 1
    assert ("FOR UPDATE" in captured.captured_queries[0]["sql"]) == is_postgres()


def read_member(member_id: int, business_id: int):
    [rows] = read_all([read_statement(member_id, business_id)])
    return member_of(rows, token=True)


def test_the_unlocked_read_needs_no_transaction(business, full_member):
    read = read_member(full_member.pk, business.pk)
    assert _fields(read) == _fields(full_member)
    assert read.cache_token == Business.objects.get(pk=business.pk).cache_token


def test_another_business_member_is_not_found(business, other_business, member):
    with pytest.raises(NotFound):
        read_member(member.pk, other_business.pk)
    with transaction.atomic(), pytest.raises(NotFound):
        lock_member(member.pk, other_business.pk)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_lock_outside_a_transaction_is_refused_as_the_orm_refuses_it(business, member):
    with pytest.raises(TransactionManagementError):
        lock_member(member.pk, business.pk)
