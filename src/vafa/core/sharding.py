"""Where each table lives on Citus, sharded by business_id, and the SQL that moves a migrated Vafa database there
(docs/scaling.md). `tests/core/test_schema_tenancy.py` holds the schema to this placement.

A table with a `business_id` column is distributed by it and co-located with the members, unless it is listed
as a reference table (copied to every node); a table without one is listed as a reference or a local table
(on the coordinator only)."""

from django.apps import apps
from django.db import models

TENANT_COLUMN = "business_id"
COLOCATION_ANCHOR = "members.Member"  # every distributed table is co-located with it

# Small, rarely written, read on nearly every request (often before the business is known).
REFERENCE_TABLES = {
    "tenancy.Business": "the tenants themselves: every distributed table's business_id refers to it",
    "tenancy.Branch": "a few rows per business, read by every purchase (branch code → branch); purchases, visits, "
                      "API keys and WooCommerce connections keep a plain foreign key to it",
    "access.Operator": "the login finds the operator by user before it knows the business; one operator per user "
                       "platform-wide (unique user_id), which only a reference table can enforce",
    "access.Operator_branches": "the operator's branches: joins two reference tables",
    "contenttypes.ContentType": "Django's model registry, referenced by permissions and the admin log",
    "auth.Permission": "Django's permissions",
    "auth.Group": "Django's permissions",
    "auth.Group_permissions": "Django's permissions",
    "auth.User": "Django's accounts: operators and platform staff",
    "auth.User_groups": "Django's permissions",
    "auth.User_user_permissions": "Django's permissions",
}
# Platform-wide state that lives on the coordinator only (the worker and the admin run there).
LOCAL_TABLES = {
    "admin.LogEntry": "the platform console's own log (Django admin is staff-only)",
    "sessions.Session": "operators' sessions; with several query nodes, move them to a shared cache",
    "django_tasks_database.DBTaskResult": "the task queue of `vafa worker`, which runs beside the coordinator",
    "jobs.JobRun": "when each periodic job last ran: one row per job, platform-wide",
    "access.LoginAttempt": "login throttling by username and address, before any business is known",
}


def label(model) -> str:
    return model._meta.label


def all_tables() -> list[type[models.Model]]:
    """Every table Django creates, including the hidden many-to-many tables."""
    return [m for m in apps.get_models(include_auto_created=True) if m._meta.managed and not m._meta.proxy]


def has_tenant_column(model) -> bool:
    return any(f.column == TENANT_COLUMN for f in model._meta.concrete_fields)


def placement(model) -> str:
    """"distributed", "reference", "local" or "unclassified" (which the schema test refuses)."""
    if label(model) in REFERENCE_TABLES:
        return "reference"
    if has_tenant_column(model):
        return "distributed"
    return "local" if label(model) in LOCAL_TABLES else "unclassified"


def distributed_tables() -> list[type[models.Model]]:
    return [m for m in all_tables() if placement(m) == "distributed"]


def tenant_foreign_keys(model) -> list[models.ForeignKey]:
    """The foreign keys from a distributed table to another one (besides business): on Citus they become
    (business_id, <column>) → (business_id, id)."""
    return [f for f in model._meta.concrete_fields
            if f.is_relation and f.db_constraint and f.column != TENANT_COLUMN
            and f.related_model is not None and placement(f.related_model) == "distributed"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key_statements(connection) -> tuple[list[str], list[str]]:
    """The statements that give every distributed table the keys Citus needs, in two parts: before distributing
    (drop the single-column foreign keys between distributed tables; primary key (business_id, id)) and after
    (the composite foreign keys). Plain PostgreSQL runs both parts as well; they enforce, besides, that no row
    points at another business's row."""
    before, after = [], []
    tables = distributed_tables()
    with connection.cursor() as cursor:
        constraints = {m: connection.introspection.get_constraints(cursor, m._meta.db_table) for m in tables}
    for model in tables:
        table = _quote(model._meta.db_table)
        for field in tenant_foreign_keys(model):
            target = field.related_model._meta.db_table
            for name, info in sorted(constraints[model].items()):
                if info["foreign_key"] and info["columns"] == [field.column] and info["foreign_key"][0] == target:
                    before.append(f"ALTER TABLE {table} DROP CONSTRAINT {_quote(name)};")
            after.append(f"ALTER TABLE {table} ADD CONSTRAINT {_quote(f'{model._meta.db_table}_{field.column}_tenant')} "
                         f"FOREIGN KEY ({TENANT_COLUMN}, {_quote(field.column)}) "
                         f"REFERENCES {_quote(target)} ({TENANT_COLUMN}, id) DEFERRABLE INITIALLY DEFERRED;")
    for model in tables:
        primary = [name for name, info in constraints[model].items() if info["primary_key"]]
        before.append(f"ALTER TABLE {_quote(model._meta.db_table)} DROP CONSTRAINT {_quote(primary[0])}, "
                      f"ADD PRIMARY KEY ({TENANT_COLUMN}, id);")
    return before, after


def _referenced_first(tables: list[type[models.Model]]) -> list[type[models.Model]]:
    """Reference tables in an order where every table comes after the tables it points at."""
    ordered: list[type[models.Model]] = []
    pending = sorted(tables, key=label)
    while pending:
        ready = [m for m in pending
                 if all(f.related_model in ordered or f.related_model is m or f.related_model not in pending
                        for f in m._meta.concrete_fields if f.is_relation and f.related_model is not None)]
        ordered += ready
        pending = [m for m in pending if m not in ready]
    return ordered


def citus_plan(connection) -> list[str]:
    """The whole move of a migrated database onto Citus, as SQL run once on the coordinator."""
    before, after = key_statements(connection)
    reference = _referenced_first([m for m in all_tables() if placement(m) == "reference"])
    anchor = apps.get_model(COLOCATION_ANCHOR)._meta.db_table
    distributed = sorted((m._meta.db_table for m in distributed_tables()), key=lambda t: t != anchor)
    return [
        "-- Vafa on Citus, sharded by business_id (docs/scaling.md). Run once on the coordinator, after",
        "-- `vafa migrate`, with the coordinator in the metadata (citus_set_coordinator_host) so that local",
        "-- tables may keep their foreign keys to reference tables.",
        "-- 1. keys with the distribution column",
        "BEGIN;",
        *before,
        "COMMIT;",
        "-- 2. reference tables, each after the tables it points at",
        *(f"SELECT create_reference_table('{m._meta.db_table}');" for m in reference),
        f"-- 3. distributed tables, co-located with {anchor}",
        *(f"SELECT create_distributed_table('{table}', '{TENANT_COLUMN}'"
          + ("" if table == anchor else f", colocate_with => '{anchor}'") + ");" for table in distributed),
        "-- 4. foreign keys between distributed tables, with the distribution column",
        "BEGIN;",
        *after,
        "COMMIT;",
    ]
