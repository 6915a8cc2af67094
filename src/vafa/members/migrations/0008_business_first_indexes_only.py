"""The single-column indexes Django made for these foreign keys, dropped (issue 11): each is either the
business_id one, redundant beside the business-first indexes every read of these tables goes through, or one
whose reads all name business_id and have a business-first index of their own (docs/benchmarks.md "Database
cost"). Every purchase, return or visit wrote each of them, and PostgreSQL read accounts through member_id's.
Only the index goes: the foreign key constraints stay, on both databases, without the table rebuild (SQLite) or
the constraint's re-validation (PostgreSQL) an AlterField would make."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # table, column, the index Django named for the foreign key
    ("members_member", "business_id", "members_member_business_id_83dffda6"),
    ("members_tierchange", "business_id", "members_tierchange_business_id_6204bd05"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0007_member_panel_indexes'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"', f'CREATE INDEX "{index}" ON "{table}" ("{column}")')
                for table, column, index in DROPPED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='member',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='tierchange',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
            ],
        ),
    ]
