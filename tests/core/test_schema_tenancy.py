"""The schema stays ready for Citus, sharded by business_id (docs/scaling.md).

Every table is classified (vafa.core.sharding): distributed by business_id (every model with a `business_id`
column, unless listed as a reference table), a reference table (copied to every node) or a local table (on the
coordinator only). On a distributed table every unique constraint and index starts with business_id, the
primary key is the plain `id` (it becomes (business_id, id) at the move, tests/core/test_sharding.py) and a row
that hangs off a tenant row carries business_id itself. The hot path (a purchase, a return, a balance read)
names business_id in every statement on a distributed table, so Citus routes each statement to one shard.

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
from vafa.core.sharding import (
    LOCAL_TABLES,
    REFERENCE_TABLES,
    TENANT_COLUMN,
    all_tables,
    distributed_tables,
    has_tenant_column,
    label,
    placement,
)
from vafa.purchases.services import record_purchase
from vafa.vouchers.services import create_code, create_definition

# Indexes and unique constraints of distributed tables that do not start with business_id, each with why it
# may stay. Keyed by (model label, columns).
INDEX_EXCEPTIONS = {
    ("outbox.OutboxEvent", ("status", "next_attempt_at")):
        "the delivery worker claims due events across businesses; on Citus the claim fans out and each shard "
        "uses its own copy of this (non-unique) index",
    ("webhooks.WebhookDelivery", ("status", "next_attempt_at")):
        "the delivery worker claims due deliveries across businesses, as for the outbox",
    ("messaging.Message", ("state", "next_attempt_at")):
        "the sending worker claims due messages across businesses, as for the outbox",
}

# The single-column index Django creates for every ForeignKey (db_index=True), on the distributed tables that
# had one before this test. Non-unique, so Citus accepts them; they stay until the foreign keys become composite
# ((business_id, member_id) → (business_id, id), docs/scaling.md "Left to do" step 4), when every one of them is
# replaced by an index starting (business_id, <column>) and the field gets db_index=False. Do not add to this
# list: a new foreign key on a tenant model takes db_index=False and an Index(fields=["business", <field>, …]).
LEGACY_FOREIGN_KEY_INDEXES = {
    "access.ApiKey": {"branch"},
    "members.Member": {"referred_by"},
    "members.Card": {"member", "replaced_by"},
    "members.TierChange": {"member"},
    "ledger.Lot": {"purchase", "origin"},
    "ledger.LotMovement": {"lot"},
    "ledger.GiftCard": {"sold_to"},
    "ledger.GiftCardMovement": {"card"},
    "purchases.PurchaseLine": {"purchase"},
    "purchases.Visit": {"member", "branch"},
    "purchases.RewardEffect": {"purchase", "visit", "event"},
    "purchases.IssuedReward": {"purchase", "visit"},
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


@dataclass(frozen=True)
class Declared:
    what: str  # how the model declares it, for the message
    columns: tuple[str, ...]
    unique: bool
    fix: str
    foreign_key: str = ""  # the ForeignKey whose implicit index this is


def _columns(model, names) -> tuple[str, ...]:
    return tuple(model._meta.get_field(name.lstrip("-")).column for name in names)


UNIQUE_FIX = "make it UniqueConstraint(fields=['business', …]) (a OneToOneField becomes a ForeignKey with it)"
INDEX_FIX = "put 'business' first in its fields"


def declared_indexes(model) -> list[Declared]:
    """Every unique constraint and index the model declares, in the words of its source."""
    name = label(model)
    found = []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.unique:
            kind = "OneToOneField" if isinstance(f, models.OneToOneField) else "unique=True"
            found.append(Declared(f"{name}.{f.name} ({kind})", (f.column,), True, UNIQUE_FIX))
        elif f.db_index and f.is_relation:
            found.append(Declared(f"the index Django creates for ForeignKey {name}.{f.name}", (f.column,), False,
                                  f"give the ForeignKey db_index=False and add Index(fields=['business', "
                                  f"'{f.name}', …]) to Meta.indexes", foreign_key=f.name))
        elif f.db_index:
            found.append(Declared(f"{name}.{f.name} (db_index=True)", (f.column,), False,
                                  f"drop db_index=True and add Index(fields=['business', '{f.name}']) to Meta.indexes"))
    for fields in model._meta.unique_together:
        found.append(Declared(f"{name} Meta.unique_together {tuple(fields)}", _columns(model, fields), True,
                              UNIQUE_FIX))
    for index in model._meta.indexes:
        columns = _columns(model, index.fields) if index.fields else ()
        found.append(Declared(f"{name} Meta.indexes {index.name!r}", columns, False, INDEX_FIX))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            columns = _columns(model, constraint.fields) if constraint.fields else ()
            found.append(Declared(f"{name} Meta.constraints {constraint.name!r}", columns, True, UNIQUE_FIX))
    return found


def index_problems(model) -> list[str]:
    problems = []
    legacy = LEGACY_FOREIGN_KEY_INDEXES.get(label(model), set())
    for index in declared_indexes(model):
        if index.columns[:1] == (TENANT_COLUMN,) or (label(model), index.columns) in INDEX_EXCEPTIONS:
            continue
        if index.foreign_key and index.foreign_key in legacy:
            continue
        kind = "unique" if index.unique else "index"
        columns = ", ".join(index.columns) or "an expression"
        problems.append(f"{index.what}: {kind} on ({columns}) does not start with business_id; {index.fix}")
    return problems


def test_every_table_is_classified():
    """A new table says where it lives on Citus: it has business_id (distributed), or it is listed."""
    unclassified = [label(m) for m in all_tables() if placement(m) == "unclassified"]
    assert not unclassified, (
        f"tables without business_id and not listed as reference or local tables: {unclassified}; add business "
        f"(a ForeignKey to tenancy.Business) or list them in vafa.core.sharding's REFERENCE_TABLES or LOCAL_TABLES "
        f"with a reason")
    stale = [name for name in [*REFERENCE_TABLES, *LOCAL_TABLES] if not _exists(name)]
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


def orphan_problems(model) -> list[str]:
    """A model without business_id that points at a tenant model (one with business_id)."""
    if has_tenant_column(model) or label(model) in REFERENCE_TABLES:
        return []
    return [f"{label(model)}.{f.name} points at tenant model {label(f.related_model)}, but {label(model)} has no "
            f"business_id: add business = ForeignKey('tenancy.Business')"
            for f in model._meta.concrete_fields
            if f.is_relation and f.related_model is not None and has_tenant_column(f.related_model)]


def test_a_row_under_a_tenant_row_carries_business_id():
    """A model that points at a tenant model has business_id itself, so the two rows live on one shard and the
    foreign key can become (business_id, <column>) → (business_id, id)."""
    problems = [problem for model in all_tables() for problem in orphan_problems(model)]
    assert not problems, "\n".join(problems)


# The foreign keys Citus can keep: between co-located distributed tables (with business_id in them), from a
# distributed or a local table to a reference table, and between tables of the same kind.
ALLOWED_FOREIGN_KEYS = {("distributed", "distributed"), ("distributed", "reference"), ("reference", "reference"),
                        ("local", "reference"), ("local", "local")}


def test_foreign_keys_point_where_citus_can_keep_them():
    """A reference table never points at a distributed or a local one, a local table never at a distributed
    one, and a distributed table never at a local one."""
    problems = []
    for model in all_tables():
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is not None and f.db_constraint:
                pair = (placement(model), placement(f.related_model))
                if pair not in ALLOWED_FOREIGN_KEYS:
                    problems.append(f"{label(model)}.{f.name}: a {pair[0]} table points at {pair[1]} table "
                                    f"{label(f.related_model)}, which Citus cannot keep; give the model business_id "
                                    f"or move one of them (vafa.core.sharding)")
    assert not problems, "\n".join(problems)


def test_distributed_tables_key_on_a_bigint_id():
    """The primary key of every distributed table is the plain BigAutoField id, turned into (business_id, id)
    for all tables at once at the move (docs/scaling.md); another primary key would be unique without
    business_id, and Citus gives each node its own range of a bigint sequence only."""
    problems = [f"{label(m)}: primary key {m._meta.pk.name} ({type(m._meta.pk).__name__}); use the default "
                f"BigAutoField id and a UniqueConstraint(fields=['business', …]) for the natural key"
                for m in distributed_tables()
                if m._meta.pk.name != "id" or not isinstance(m._meta.pk, models.BigAutoField)]
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
    """The walk fails on a unique field, a OneToOneField, an index and a foreign key index without business_id,
    and on a row under a tenant row without business_id."""

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

        def __str__(self) -> str:
            return self.receipt

    class DriftedLine(models.Model):
        drifted = models.ForeignKey(Drifted, on_delete=models.CASCADE)

        class Meta:
            app_label = "core"

        def __str__(self) -> str:
            return str(self.pk)

    try:
        problems = index_problems(Drifted)
        orphans = orphan_problems(DriftedLine)
    finally:
        del apps.all_models["core"]["drifted"], apps.all_models["core"]["driftedline"]
        apps.clear_cache()
    assert [p.split(":")[0] for p in problems] == [
        "core.Drifted.member (OneToOneField)", "core.Drifted.receipt (unique=True)",
        "the index Django creates for ForeignKey core.Drifted.card", "core.Drifted Meta.indexes 'drifted_at_idx'",
        "core.Drifted Meta.constraints 'drifted_card_once'"]
    assert orphans == ["core.DriftedLine.drifted points at tenant model core.Drifted, but core.DriftedLine has no "
                       "business_id: add business = ForeignKey('tenancy.Business')"]


# --- the hot path stays on one shard -------------------------------------------------------------------------

# Statements of the hot path on a distributed table without business_id in their WHERE (or join), each with why
# it may stay for now. Keyed by (verb, table, the table's columns in the predicate). Citus sends such a
# statement to every shard; each is a row the use case has already read (or inserted) with its business_id,
# written back by primary key (Django's save() and filter(pk=…).update()). Adding business_id to the filter
# routes it to one shard: left to do with the hot path's rewrite (issue 11; docs/scaling.md "Left to do").
PK_WRITE_BACK = "a row this use case has already read or inserted with business_id, written back by primary key"
HOT_PATH_EXCEPTIONS = {
    ("UPDATE", "access_apikey", ("id",)): "the key's last use, by primary key after the lookup by business and prefix",
    ("UPDATE", "core_idempotencyrecord", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "ledger_account", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "ledger_lot", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "purchases_purchase", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "purchases_rewardeffect", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "purchases_return", ("id",)): PK_WRITE_BACK,
    ("UPDATE", "vouchers_vouchercode", ("id", "max_uses", "used_count")): PK_WRITE_BACK + " (conditional use count)",
    ("UPDATE", "vouchers_voucherdefinition", ("id", "max_uses_total", "used_count")):
        PK_WRITE_BACK + " (conditional use count)",
    ("SELECT", "purchases_purchase", ("id",)): "a return re-reads its purchase by primary key after finding it "
                                               "with business_id",
    ("SELECT", "ledger_lotmovement", ("amount", "entry_id", "id", "lot_id")):
        "a return finds the lots a spend took by the spend's entry ids, read with business_id",
    ("SELECT", "ledger_lot", ("id",)): "joined to those movements (select_related) on lot_id alone: needs "
                                       "ledger_lot.business_id = ledger_lotmovement.business_id in the join",
    ("SELECT", "vouchers_voucherdefinition", ("id",)): "joined to the codes entered (select_related) on "
                                                       "definition_id alone; the codes are filtered by business_id",
}

SKIPPED_VERBS = {"SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "SET", "SHOW", "PRAGMA"}
NOT_AN_ALIAS = ("ON", "WHERE", "SET", "VALUES", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "JOIN", "ORDER",
                "GROUP", "LIMIT", "OFFSET", "FOR", "USING", "RETURNING", "SELECT", "DEFAULT", "HAVING", "UNION", "AND",
                "OR", "AS")
TABLE_REFERENCE = re.compile(r'\b(?:FROM|JOIN|UPDATE|INTO)\s+"?(\w+)"?'
                             rf'(?:\s+(?:AS\s+)?"?(?!(?:{"|".join(NOT_AN_ALIAS)})\b)(\w+)"?)?', re.IGNORECASE)
UNQUALIFIED_TENANT_COLUMN = re.compile(r'(?<![."\w])"?business_id"?\s*(?:=|IN\b)', re.IGNORECASE)


def _top_level(sql: str, keyword: str) -> int:
    """Where the word `keyword` first occurs outside parentheses and quotes, or -1."""
    depth, quote = 0, ""
    for i, char in enumerate(sql):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif (depth == 0 and char.isspace() and sql[i + 1:i + 1 + len(keyword)].upper() == keyword
              and not sql[i + 1 + len(keyword):i + 2 + len(keyword)].isalnum()):
            return i
    return -1


def _unwrapped(sql: str) -> str:
    """The statement without parentheses around the whole of it (PostgreSQL's SQL for a UNION wraps each part)."""
    sql = sql.strip()
    while sql.startswith("(") and sql.endswith(")"):
        depth, quote = 0, ""
        for i, char in enumerate(sql):
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "()":
                depth += 1 if char == "(" else -1
                if depth == 0 and i < len(sql) - 1:
                    return sql  # the first parenthesis closes before the end: not one group
        sql = sql[1:-1].strip()
    return sql


def union_parts(sql: str) -> list[str]:
    """Each SELECT of a UNION (ALL), which Citus routes on its own."""
    parts, rest = [], _unwrapped(sql)
    while (at := _top_level(rest, "UNION")) >= 0:
        parts.append(_unwrapped(rest[:at]))
        rest = rest[at + len(" UNION"):].lstrip()
        rest = rest[3:] if rest[:3].upper() == "ALL" else rest
    return [*parts, _unwrapped(rest)]


def with_parts(sql: str) -> list[str]:
    """The statements of a top-level `WITH a [(columns)] AS [MATERIALIZED] (…), b AS (…) <main>`: each part's
    body, then the main statement."""
    parts, rest = [], sql.lstrip()[len("WITH"):]
    while (match := re.match(r'\s*"?\w+"?\s*(?:\([\w\s,]*\)\s*)?AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(', rest,
                             re.IGNORECASE)):
        depth, quote, start = 0, "", match.end() - 1
        for i in range(start, len(rest)):
            if quote:
                quote = "" if rest[i] == quote else quote
            elif rest[i] in "'\"":
                quote = rest[i]
            elif rest[i] in "()":
                depth += 1 if rest[i] == "(" else -1
                if depth == 0:
                    break
        parts.append(rest[start + 1:i].strip())
        rest = rest[i + 1:].lstrip().removeprefix(",")
    return [*parts, rest.strip()]


@dataclass(frozen=True)
class Unrouted:
    verb: str
    table: str
    columns: tuple[str, ...]
    sql: str

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.verb, self.table, self.columns)


def unrouted(sql: str, distributed: set[str]) -> list[Unrouted]:
    """The distributed tables of one statement that Citus could not route to one shard: an INSERT without the
    business_id column; a SELECT, UPDATE or DELETE without business_id in its WHERE or join conditions. Reads
    Django's SQL and hand-written SQL (unquoted, lower case, with aliases)."""
    parts = union_parts(sql)
    if len(parts) > 1:
        return [found for part in parts for found in unrouted(part, distributed)]
    sql = parts[0]
    verb = sql.lstrip().split(None, 1)[0].upper()
    if verb == "WITH":  # each part of a WITH (a data-modifying one: ledger.sql's credits) on its own
        return [found for part in with_parts(sql) for found in unrouted(part, distributed)]
    if verb in SKIPPED_VERBS:
        return []
    references = [(table, alias or table) for table, alias in TABLE_REFERENCE.findall(sql) if table in distributed]
    if verb == "INSERT":
        columns = sql[sql.find("(") + 1:sql.find(")")]
        if re.search(rf"\b{TENANT_COLUMN}\b", columns):
            return []
        return [Unrouted(verb, table, (), sql) for table, _ in references[:1]]
    start = _top_level(sql, "FROM") if verb == "SELECT" else _top_level(sql, "WHERE") if verb != "WITH" else 0
    predicate = sql[start:] if start >= 0 else ""
    found = []
    for table, ref in references:
        named = re.search(rf'(?<![\w"])"?{ref}"?\."?{TENANT_COLUMN}"?(?!\w)', predicate)
        alone = len(references) == 1 and UNQUALIFIED_TENANT_COLUMN.search(predicate)
        if not (named or alone):
            columns = tuple(sorted(set(re.findall(rf'(?<![\w"])"?{ref}"?\."?(\w+)"?', predicate))))
            found.append(Unrouted(verb, table, columns, sql))
    return found


def test_the_router_check_reads_django_sql():
    """The SQL reader itself: what it accepts and what it names."""
    tables = {"members_member", "ledger_account"}
    assert unrouted('SELECT "members_member"."id" FROM "members_member" WHERE ("members_member"."business_id" = 1 '
                    'AND "members_member"."id" = 5)', tables) == []
    assert [u.key for u in unrouted('SELECT "members_member"."business_id" FROM "members_member" WHERE '
                                    '"members_member"."id" = 5', tables)] == [("SELECT", "members_member", ("id",))]
    assert [u.key for u in unrouted('UPDATE "ledger_account" SET "business_id" = 1 WHERE "ledger_account"."id" = 3',
                                    tables)] == [("UPDATE", "ledger_account", ("id",))]
    assert unrouted('INSERT INTO "ledger_account" ("business_id", "code") VALUES (1, \'x\')', tables) == []
    assert [u.key for u in unrouted("WITH t (a, b) AS (SELECT id, 1 FROM ledger_account WHERE id = 3) SELECT a "
                                    "FROM t UNION ALL SELECT 1, 2 FROM members_member WHERE business_id = 1",
                                    tables)] == [("SELECT", "ledger_account", ())]
    assert [u.key for u in unrouted('INSERT INTO "ledger_account" ("code") VALUES (\'x\')', tables)] == [
        ("INSERT", "ledger_account", ())]
    joined = ('SELECT * FROM "ledger_account" INNER JOIN "members_member" T3 ON ("ledger_account"."member_id" = '
              'T3."id") WHERE "ledger_account"."business_id" = 1')
    assert [u.key for u in unrouted(joined, tables)] == [("SELECT", "members_member", ("id",))]
    assert unrouted('SELECT "tenancy_business"."id" FROM "tenancy_business" WHERE "tenancy_business"."id" = 1',
                    tables) == []
    # hand-written SQL
    assert unrouted("select balance from ledger_account where business_id = %s and id = %s", tables) == []
    assert [u.key for u in unrouted("update ledger_account set balance = balance + %s\nwhere id = %s", tables)] == [
        ("UPDATE", "ledger_account", ())]
    assert unrouted("insert into ledger_account (business_id, code) values (%s, %s)", tables) == []
    aliased = ("SELECT a.balance FROM ledger_account a JOIN members_member m ON m.business_id = a.business_id "
               "AND m.id = a.member_id WHERE a.business_id = %s AND m.id = %s FOR UPDATE")
    assert unrouted(aliased, tables) == []
    assert [u.key for u in unrouted(aliased.replace("m.business_id = a.business_id AND ", ""), tables)] == [
        ("SELECT", "members_member", ("id",))]
    union = ('(SELECT "ledger_account"."id" FROM "ledger_account" WHERE ("ledger_account"."business_id" = 1)) '
             'UNION ALL (SELECT "members_member"."id" FROM "members_member" WHERE ("members_member"."id" = 5))')
    assert [u.key for u in unrouted(union, tables)] == [("SELECT", "members_member", ("id",))]
    assert unrouted(union.replace('"members_member"."id" = 5', '"members_member"."business_id" = 1'), tables) == []
    modifying = ("WITH v AS MATERIALIZED (SELECT 1 AS a FROM (VALUES (1)) AS r(a)), e AS (INSERT INTO ledger_account "
                 "(business_id, code) SELECT a, 'x' FROM v), u AS (UPDATE ledger_account SET balance = 0 WHERE id = %s "
                 "RETURNING 1) SELECT (SELECT COUNT(*) FROM u)")
    assert [u.key for u in unrouted(modifying, tables)] == [("UPDATE", "ledger_account", ())]
    assert unrouted(modifying.replace("WHERE id", "WHERE business_id = %s AND id"), tables) == []


SOME_LINES = [{"sku": "ESP", "category": "coffee", "quantity": 2, "unit_price": 100_000},
              {"sku": "CAKE", "category": "cake", "quantity": 1, "unit_price": 120_000}]
CASHBACK = {"settings": {"currencies": {"points": {"expiry_days": 365}, "wallet": {"expiry_days": 90}}},
            "rules": [{"id": "base", "kind": "earn", "per": 100_000, "award": 10},
                      {"id": "cashback", "kind": "cashback", "percent": "2",
                       "cap": {"per_member": 500_000, "period": "month"}}],
            "tiers": {"basis": "spend", "window_days": 365, "levels": [
                {"code": "bronze", "name": "Bronze", "threshold": 0},
                {"code": "silver", "name": "Silver", "threshold": 5_000_000, "multiplier": 2}]}}


def test_the_hot_path_names_business_id_in_every_statement(business, program, member, client):
    """A purchase (a discount code, wallet credit spent, points and cashback earned), a return and a balance
    read, through the API as a till sends them: every statement on a distributed table goes to one shard."""
    program(CASHBACK)
    create_code(create_definition(business, name="10%", kind="percent", percent="10"), "TEN")
    _, key = create_api_key(business, scope="write", name="till")
    record_purchase(business, member_id=member.pk, branch_code="t1", receipt="W-1", total=320_000, lines=SOME_LINES)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def post(path: str, body: dict, idempotency_key: str):
        return client.post(path, data=json.dumps(body), content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY=idempotency_key, **headers)

    steps = {
        "purchase": lambda: post("/api/v1/purchases", {
            "member": {"member_id": member.pk}, "branch": "t1", "receipt": "W-2", "total": 320_000,
            "items": SOME_LINES, "codes": ["TEN"], "redeem": {"wallet": 1_000}}, "hot-1"),
        "return": lambda: post("/api/v1/purchases/{}/returns".format(answers["purchase"]["purchase_id"]),
                               {"amount": 100_000}, "hot-2"),
        "balance": lambda: client.get(f"/api/v1/members/{member.pk}/balance", **headers),
    }
    distributed = {m._meta.db_table for m in distributed_tables()}
    answers, problems = {}, []
    for step, call in steps.items():
        with CaptureQueriesContext(connection) as queries:
            response = call()
        assert response.status_code in (200, 201), (step, response.content)
        answers[step] = response.json()
        for query in queries.captured_queries:
            for found in unrouted(query["sql"], distributed):
                if found.key not in HOT_PATH_EXCEPTIONS:
                    problems.append(f"{step}: {found.verb} on {found.table} by {found.columns or 'no column'} "
                                    f"without business_id: {found.sql[:3000]}")
    assert answers["purchase"]["discount"] > 0 and answers["purchase"]["wallet_redeemed"] == 1_000, answers
    assert not problems, "\n".join(problems)
