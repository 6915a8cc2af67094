"""The schema stays ready for Citus, sharded by business_id (docs/scaling.md).

Every table is classified: distributed by business_id (every model with a `business_id` column, unless listed
as a reference table), a reference table (copied to every node) or a local table (on the coordinator only). On a
distributed table every unique constraint and index starts with business_id, the primary key is the plain `id`
(it becomes (business_id, id) in one step at the move, left to do) and a row that hangs off a tenant row carries
business_id itself. The hot path (a purchase, a return, a balance read) names business_id in every statement on
a distributed table, so Citus routes each statement to one shard.

A failure names the model and the constraint. Fix the schema (see how in the message) rather than listing an
exception; an exception needs a reason that still holds on Citus.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from vafa.access.services import create_api_key
from vafa.purchases.services import record_purchase
from vafa.vouchers.services import create_code, create_definition

TENANT_COLUMN = "business_id"

# Reference tables: small, rarely written, read on nearly every request, often before the business is known;
# Citus copies them to every node, so a distributed table may reference and join them on any shard.
REFERENCE_TABLES = {
    "tenancy.Business": "the tenants themselves: every distributed table's business_id refers to it",
    "tenancy.Branch": "a few rows per business, read by every purchase (branch code → branch); purchases, visits, "
                      "API keys and WooCommerce connections keep a plain foreign key to it",
    "access.Operator": "the login finds the operator by user before it knows the business; one operator per user "
                       "platform-wide (unique user_id), which only a reference table can enforce",
    "access.Operator_branches": "the operator's branches: joins two reference tables",
    "auth.User": "Django's accounts: operators and platform staff",
    "auth.Group": "Django's permissions",
    "auth.Group_permissions": "Django's permissions",
    "auth.User_groups": "Django's permissions",
    "auth.User_user_permissions": "Django's permissions",
    "auth.Permission": "Django's permissions",
    "contenttypes.ContentType": "Django's model registry, referenced by permissions and the admin log",
}
# Local tables: platform-wide state that lives on the coordinator only (the worker and the admin run there).
LOCAL_TABLES = {
    "admin.LogEntry": "the platform console's own log (Django admin is staff-only)",
    "sessions.Session": "operators' sessions; with several coordinators, move them to the shared cache",
    "django_tasks_database.DBTaskResult": "the task queue of `vafa worker`, which runs beside the coordinator",
    "jobs.JobRun": "when each periodic job last ran: one row per job, platform-wide",
    "access.LoginAttempt": "login throttling by username and address, before any business is known",
}

# Indexes and unique constraints of distributed tables that do not start with business_id, each with why it
# may stay. Keyed by (model label, columns).
INDEX_EXCEPTIONS = {
    ("outbox.OutboxEvent", ("status", "next_attempt_at")):
        "the delivery worker claims due events across businesses; on Citus the claim fans out and each shard "
        "uses its own copy of this (non-unique) index",
    ("webhooks.WebhookDelivery", ("status", "next_attempt_at")):
        "the delivery worker claims due deliveries across businesses, as for the outbox",
}

# The single-column index Django creates for every ForeignKey (db_index=True), on the distributed tables that
# had one before this test. Non-unique, so Citus accepts them; they stay until the foreign keys become composite
# ((business_id, member_id) → (business_id, id), docs/scaling.md "Left to do" step 3), when every one of them is
# replaced by an index starting (business_id, <column>) and the field gets db_index=False. Do not add to this
# list: a new foreign key on a tenant model takes db_index=False and an Index(fields=["business", <field>, …]).
LEGACY_FOREIGN_KEY_INDEXES = {
    "access.ApiKey": {"branch"},
    "members.Member": {"referred_by"},
    "members.Card": {"member", "replaced_by"},
    "members.TierChange": {"member"},
    "ledger.Account": {"member"},
    "ledger.Entry": {"member", "debit", "credit", "purchase"},
    "ledger.Lot": {"member", "purchase", "origin"},
    "ledger.LotMovement": {"entry", "lot"},
    "ledger.GiftCard": {"sold_to"},
    "ledger.GiftCardMovement": {"card", "purchase"},
    "purchases.Purchase": {"member", "branch"},
    "purchases.PurchaseLine": {"purchase"},
    "purchases.Visit": {"member", "branch"},
    "purchases.ActivityEvent": {"member"},
    "purchases.RewardEffect": {"member", "purchase", "visit", "event"},
    "purchases.IssuedReward": {"member", "purchase", "visit"},
    "purchases.Return": {"purchase"},
    "vouchers.VoucherCode": {"definition"},
    "vouchers.Redemption": {"definition", "code", "member"},
    "vouchers.Reservation": {"code", "member"},
    "catalogue.Gift": {"group"},
    "catalogue.GiftRequest": {"member", "gift", "debit_entry", "refund_entry"},
    "catalogue.GiftCode": {"gift", "request"},
    "clubs.Subscription": {"member", "entry"},
    "clubs.Donation": {"cause", "member"},
    "clubs.Partnership": {"partner"},
    "woocommerce.WooConnection": {"branch"},
    "woocommerce.WooOrder": {"connection", "purchase"},
    "webhooks.WebhookDelivery": {"endpoint"},
    "webhooks.WebhookAttempt": {"delivery"},
}


def label(model) -> str:
    return model._meta.label


def all_tables():
    """Every table Django creates, including the hidden many-to-many tables."""
    return [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]


def has_tenant_column(model) -> bool:
    return any(f.column == TENANT_COLUMN for f in model._meta.concrete_fields)


def is_distributed(model) -> bool:
    return has_tenant_column(model) and label(model) not in REFERENCE_TABLES


def distributed_tables():
    return [m for m in all_tables() if is_distributed(m)]


@dataclass(frozen=True)
class Declared:
    what: str  # how the model declares it, for the message
    columns: tuple[str, ...]
    unique: bool
    field: str = ""  # the ForeignKey whose implicit index this is


def _columns(model, names) -> tuple[str, ...]:
    return tuple(model._meta.get_field(name.lstrip("-")).column for name in names)


def declared_indexes(model) -> list[Declared]:
    """Every unique constraint and index the model declares, in the words of its source."""
    name = label(model)
    found = []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.unique:
            kind = "OneToOneField" if isinstance(f, models.OneToOneField) else "unique=True"
            found.append(Declared(f"{name}.{f.name} ({kind})", (f.column,), True))
        elif f.db_index:
            kind = "the index Django creates for ForeignKey" if f.is_relation else "db_index=True on"
            found.append(Declared(f"{kind} {name}.{f.name}", (f.column,), False, field=f.name))
    for fields in model._meta.unique_together:
        found.append(Declared(f"{name} Meta.unique_together {tuple(fields)}", _columns(model, fields), True))
    for index in model._meta.indexes:
        columns = _columns(model, index.fields) if index.fields else ()
        found.append(Declared(f"{name} Meta.indexes {index.name!r}", columns, False))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            columns = _columns(model, constraint.fields) if constraint.fields else ()
            found.append(Declared(f"{name} Meta.constraints {constraint.name!r}", columns, True))
    return found


def index_problems(model) -> list[str]:
    problems = []
    legacy = LEGACY_FOREIGN_KEY_INDEXES.get(label(model), set())
    for index in declared_indexes(model):
        if index.columns[:1] == (TENANT_COLUMN,) or (label(model), index.columns) in INDEX_EXCEPTIONS:
            continue
        if index.field and index.field in legacy:
            continue
        if index.field:
            fix = (f"give the ForeignKey db_index=False and add Index(fields=['business', '{index.field}', …]) "
                   f"to Meta.indexes")
        elif index.unique:
            fix = "make it UniqueConstraint(fields=['business', …]) (a OneToOneField becomes a ForeignKey with it)"
        else:
            fix = "put 'business' first in its fields"
        kind = "unique" if index.unique else "index"
        columns = ", ".join(index.columns) or "an expression"
        problems.append(f"{index.what}: {kind} on ({columns}) does not start with business_id; {fix}")
    return problems


def test_every_table_is_classified():
    """A new table says where it lives on Citus: it has business_id (distributed), or it is listed."""
    unclassified = [label(m) for m in all_tables()
                    if not has_tenant_column(m) and label(m) not in REFERENCE_TABLES | LOCAL_TABLES.keys()]
    assert not unclassified, (
        f"tables without business_id and not listed as reference or local tables: {unclassified}; add business "
        f"(a ForeignKey to tenancy.Business) or list them in REFERENCE_TABLES/LOCAL_TABLES with a reason")
    stale = [name for name in REFERENCE_TABLES | LOCAL_TABLES.keys() if not _exists(name)]
    assert not stale, f"listed tables that no longer exist: {stale}"


def _exists(name: str) -> bool:
    return any(label(m) == name for m in all_tables())


def test_tenant_column_is_a_required_foreign_key_to_the_business():
    problems = []
    for model in all_tables():
        for f in model._meta.concrete_fields:
            to_business = f.is_relation and f.related_model is not None and label(f.related_model) == "tenancy.Business"
            if f.column == TENANT_COLUMN and (not to_business or f.null):
                problems.append(f"{label(model)}.{f.name}: business_id must be a ForeignKey to tenancy.Business "
                                f"with null=False (the distribution column has a value on every row)")
            if to_business and not has_tenant_column(model):
                problems.append(f"{label(model)}.{f.name}: a ForeignKey to tenancy.Business on a model without "
                                f"`business`; name the tenant's own business `business`")
    assert not problems, "\n".join(problems)


def test_a_row_under_a_tenant_row_carries_business_id():
    """A model that points at a tenant model has business_id itself, so the two rows live on one shard and the
    foreign key can become (business_id, <column>) → (business_id, id)."""
    problems = []
    for model in all_tables():
        if has_tenant_column(model) or label(model) in REFERENCE_TABLES:
            continue
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is not None and has_tenant_column(f.related_model):
                problems.append(f"{label(model)}.{f.name} points at tenant model {label(f.related_model)}, but "
                                f"{label(model)} has no business_id: add business = ForeignKey('tenancy.Business')")
    assert not problems, "\n".join(problems)


def test_distributed_tables_key_on_id():
    """The primary key of every distributed table is the plain auto id, turned into (business_id, id) for all
    tables at once at the move (docs/scaling.md); another primary key would be unique without business_id."""
    problems = [f"{label(m)}: primary key {m._meta.pk.name} ({type(m._meta.pk).__name__}); use the default id "
                f"and a UniqueConstraint(fields=['business', …]) for the natural key"
                for m in distributed_tables()
                if m._meta.pk.name != "id" or not isinstance(m._meta.pk, models.AutoField)]
    assert not problems, "\n".join(problems)


def test_unique_constraints_and_indexes_of_distributed_tables_start_with_business_id():
    problems = [problem for model in distributed_tables() for problem in index_problems(model)]
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_the_database_has_no_other_index_without_business_id():
    """What the models declare is what the database holds: no index added by hand (RunSQL) escapes the walk."""
    problems = []
    with connection.cursor() as cursor:
        for model in distributed_tables():
            known = {index.columns for index in declared_indexes(model)}
            for name, info in connection.introspection.get_constraints(cursor, model._meta.db_table).items():
                if info["primary_key"] or info["foreign_key"] or info["check"] or not (info["unique"] or info["index"]):
                    continue
                columns = tuple(info["columns"] or ())
                if columns[:1] != (TENANT_COLUMN,) and columns not in known:
                    problems.append(f"{label(model)}: the database has {'unique' if info['unique'] else 'index'} "
                                    f"{name} on {columns}, which the model does not declare")
    assert not problems, "\n".join(problems)


def test_the_walk_catches_drift():
    """The walk fails on a unique field, a OneToOneField, an index and a foreign key index without business_id."""

    class Drifted(models.Model):
        business = models.ForeignKey("tenancy.Business", on_delete=models.CASCADE)
        member = models.OneToOneField("members.Member", on_delete=models.CASCADE)
        receipt = models.CharField(max_length=10, unique=True)
        card = models.ForeignKey("members.Card", on_delete=models.CASCADE)
        at = models.DateTimeField()

        class Meta:
            app_label = "core"
            indexes = [models.Index(fields=["at"], name="drifted_at_idx")]
            constraints = [models.UniqueConstraint(fields=["card", "business"], name="drifted_card_once")]

    try:
        problems = index_problems(Drifted)
    finally:
        del apps.all_models["core"]["drifted"]
        apps.clear_cache()
    assert [p.split(":")[0] for p in problems] == [
        "core.Drifted.member (OneToOneField)", "core.Drifted.receipt (unique=True)",
        "the index Django creates for ForeignKey core.Drifted.card", "core.Drifted Meta.indexes 'drifted_at_idx'",
        "core.Drifted Meta.constraints 'drifted_card_once'"]
