"""The hot path's hand-written writes (vafa.core.sql): a Table's plain per-column adapters give the database exactly
what Django's own `field.get_db_prep_save` gives, for every model of Vafa (those a write plan writes and any a
later one will), on the database the suite runs on (SQLite by default, PostgreSQL with VAFA_DATABASE_URL)."""

import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection

from vafa.core.sql import Table, WritePlan, insert_now, read_all, set_columns, table

TEHRAN = zoneinfo.ZoneInfo("Asia/Tehran")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# the values a plan holds, per field kind: None stands for SQL NULL (nullable columns only)
SAMPLES: dict[str, list] = {
    "JSONField": [{"نام": "خرید ۱", "n": [1, 2.5, None, True], "d": {"x": "ی\u200cها", "t": "2025-06-01"}}, [],
                  ["a", {"b": None}], {}, "متن", 12],
    "DateTimeField": [dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC),
                      dt.datetime(2025, 3, 20, 23, 59, 59, 123456, tzinfo=TEHRAN),
                      dt.datetime(2024, 12, 31, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                      # a repeated hour's two times, one after the other (equal as Python compares them)
                      dt.datetime(2025, 11, 2, 1, 30, tzinfo=NEW_YORK),
                      dt.datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NEW_YORK)],
    "DateField": [dt.date(2025, 3, 21)],
    "UUIDField": [uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678123456781234567812345678"],
    "DecimalField": [Decimal("12.50"), Decimal("0")],
    "GenericIPAddressField": ["10.0.0.9", "2001:0db8:0000::0001", "::ffff:10.0.0.1", ""],
    "CharField": ["سلام", ""], "TextField": ["متن بلند\nدو خط"], "SlugField": ["a-b"],
    "BooleanField": [True, False],
    "BinaryField": [b"\x00\x01"],
}
INTEGERS = ("AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
            "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "ForeignKey",
            "OneToOneField")


def models():
    return [m for m in apps.get_models() if m.__module__.startswith("vafa.")]


def as_stored(value):
    """What the driver sends for a parameter: its SQL literal on PostgreSQL (psycopg's own dumpers: the same
    bytes as the bound parameter), the value and its type on SQLite (sqlite3 stores str, int, float, bytes)."""
    if connection.vendor == "postgresql":
        from psycopg.adapt import Transformer

        return Transformer(connection.connection).as_literal(value)
    return type(value), value


def rows_for(model) -> list[dict]:
    """Rows for `model` that together give each column every sample of its kind (and None where it may)."""
    fields = list(model._meta.concrete_fields)
    samples = {}
    for f in fields:
        kind = f.get_internal_type()
        values = [7, 0] if kind in INTEGERS else list(SAMPLES.get(kind, []))
        if kind == "JSONField" and f.encoder is not None:  # what only its encoder writes (an audit row's params)
            values.append({"at": dt.datetime(2025, 6, 1, 12, 0, tzinfo=TEHRAN), "amount": Decimal("1.50"),
                           "id": uuid.UUID(int=5)})
        assert values, f"{model.__name__}.{f.name}: a {kind} with no sample here"
        samples[f.attname] = values + ([None] if f.null else [])
    longest = max(len(values) for values in samples.values())
    return [{name: values[i % len(values)] for name, values in samples.items()} for i in range(longest)]


@pytest.mark.parametrize("model", models(), ids=lambda m: m.__name__)
def test_the_adapted_row_is_what_django_stores(db, model):
    connection.ensure_connection()
    t = Table(model, with_id=True)
    fields = list(model._meta.concrete_fields)
    for row in rows_for(model):
        ours = t.values(row)
        django = [f.get_db_prep_save(row[f.attname], connection) if row[f.attname] is not None
                  or f.null else None for f in fields]
        for f, mine, theirs in zip(fields, ours, django, strict=True):
            if row[f.attname] is None and not f.null:
                continue  # a default took its place (below)
            assert as_stored(mine) == as_stored(theirs), (model.__name__, f.name, row[f.attname])


def test_a_missing_column_takes_its_default_and_a_required_one_is_refused(db):
    from vafa.ledger.models import LotMovement
    from vafa.outbox.models import OutboxEvent

    t = table(OutboxEvent)
    row = dict(zip(t.attnames, t.values({"business_id": 1, "event_type": "purchase.created", "payload": {"a": "ب"}}),
                   strict=True))
    assert row["business_id"] == 1
    assert row["event_id"] is not None and row["created_at"] is not None
    with pytest.raises(KeyError, match="amount"):
        table(LotMovement).values({"business_id": 1, "entry_id": 1, "lot_id": 1})


def test_set_columns_changes_each_row_to_its_own_values(business, member, make_member):
    from vafa.members.models import Member

    other = make_member(first_name="B")
    plan = WritePlan()
    set_columns(plan, Member._meta.db_table, ("first_name", "last_name"), business.pk,
                {member.pk: ("علی", "یکم"), other.pk: ("Sara", "Two")})
    plan.write()
    assert read_all([(f"SELECT id, first_name, last_name FROM {Member._meta.db_table} WHERE id IN (%s, %s) "
                      "ORDER BY id", [member.pk, other.pk])]) == [sorted(
                          [(member.pk, "علی", "یکم"), (other.pk, "Sara", "Two")])]


def test_insert_now_writes_the_row_as_the_orm_reads_it_and_sets_its_id(business):
    from vafa.members.models import Card, Member

    member = Member(business=business, mobile="+989121112233", code="INSNOW1", joined_at=dt.datetime(
        2025, 6, 1, 9, 30, tzinfo=TEHRAN), first_name="نگار", interests=["قهوه"])
    insert_now(member)
    assert member.pk and not member._state.adding and member.updated_at is not None
    stored = Member.objects.get(pk=member.pk)
    assert {f.attname: getattr(stored, f.attname) for f in Member._meta.concrete_fields} == {
        f.attname: getattr(member, f.attname) for f in Member._meta.concrete_fields}
    card = Card(business=business, member=member, number="6000000000001", kind="qr",
                issued_at=dt.datetime(2025, 6, 1, 9, 31, tzinfo=dt.UTC))
    insert_now(card)
    assert Card.objects.get(pk=card.pk).member_id == member.pk
