"""core.rows builds model instances as the ORM does, without Model.__init__'s per-field work: `new` gives what
`Model(**values)` gives (the row WritePlan writes, the related objects kept), `made` what `Model(*values)` and
Model.from_db give."""

import datetime as dt

from vafa.core.rows import made, new
from vafa.core.sql import row_of
from vafa.ledger.models import Account
from vafa.members.models import Member
from vafa.purchases.models import Purchase
from vafa.tenancy.models import Branch


def test_new_gives_what_the_models_own_init_gives(business, member):
    branch = Branch.objects.get(business=business, code="t1")
    at = dt.datetime(2025, 5, 1, 10, tzinfo=dt.UTC)
    values = {"id": 77, "business": business, "member": member, "branch": branch, "receipt": "R-1",
              "occurred_at": at, "total": 5_000, "program_version": 2, "units": {"cups": 2}, "fingerprint": "f",
              "actor_kind": "system"}
    ours, orms = new(Purchase, **values), Purchase(**values)
    assert row_of(ours) == row_of(orms)
    assert ours.result == {} and ours.result is not orms.result  # a callable default called for each instance
    assert ours.member is member and ours.business is business and ours.branch is branch  # kept, not read again
    assert ours._state.adding and ours._state.db is None
    by_ids = new(Purchase, business_id=business.pk, member_id=member.pk, branch_id=branch.pk, receipt="R-2",
                 occurred_at=at, total=1, program_version=1, fingerprint="g")
    assert row_of(by_ids) == row_of(Purchase(business_id=business.pk, member_id=member.pk, branch_id=branch.pk,
                                             receipt="R-2", occurred_at=at, total=1, program_version=1,
                                             fingerprint="g"))


def test_new_refuses_a_name_the_model_has_no_column_for(business):
    import pytest

    with pytest.raises(TypeError):
        new(Account, business=business, colour="red")


def test_made_gives_what_from_db_gives(member):
    values = [getattr(member, f.attname) for f in Member._meta.concrete_fields]
    ours, orms = made(Member, values, "default"), Member.from_db("default", None, values)
    assert ours.__dict__.keys() == orms.__dict__.keys()
    assert all(getattr(ours, f.attname) == getattr(orms, f.attname) for f in Member._meta.concrete_fields)
    assert (ours._state.adding, ours._state.db) == (False, "default") == (orms._state.adding, orms._state.db)
    account = made(Account, (5, member.business_id, member.pk, "points", "available", "c", 10))
    assert row_of(account) == row_of(Account(5, member.business_id, member.pk, "points", "available", "c", 10))
    assert account._state.adding
