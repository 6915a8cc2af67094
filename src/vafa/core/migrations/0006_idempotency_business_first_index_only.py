"""The single-column index Django made for IdempotencyRecord.business, dropped (issue 11, pg-write): every read
of the table names business_id first and goes through the unique (business_id, namespace, key) index, which also
serves a business's deletion. Every purchase with an Idempotency-Key wrote it at the claim and again at every
update of the answer that was not HOT. Only the index goes: the foreign key constraint stays, without the table
rebuild (SQLite) or the constraint's re-validation (PostgreSQL) an AlterField would make."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "core_idempotencyrecord_business_id_c513aaf2"


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_idempotency_progress'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{INDEX}"',
                                  f'CREATE INDEX "{INDEX}" ON "core_idempotencyrecord" ("business_id")'),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='idempotencyrecord',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
            ],
        ),
    ]
