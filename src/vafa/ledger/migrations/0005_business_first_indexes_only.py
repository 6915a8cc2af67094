"""The single-column indexes Django made for these foreign keys, dropped (issue 11): each is either the
business_id one, redundant beside the business-first indexes every read of these tables goes through, or one
whose reads all name business_id and have a business-first index of their own (docs/benchmarks.md "Database
cost"). Every purchase, return or visit wrote each of them, and PostgreSQL read accounts through member_id's.
Only the index goes: the foreign key constraints stay, on both databases, without the table rebuild (SQLite) or
the constraint's re-validation (PostgreSQL) an AlterField would make."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # table, column, the index Django named for the foreign key
    ("ledger_account", "business_id", "ledger_account_business_id_3289c5db"),
    ("ledger_account", "member_id", "ledger_account_member_id_02137926"),
    ("ledger_entry", "business_id", "ledger_entry_business_id_70634bef"),
    ("ledger_entry", "member_id", "ledger_entry_member_id_482a4ddc"),
    ("ledger_entry", "debit_id", "ledger_entry_debit_id_c7fafc2e"),
    ("ledger_entry", "credit_id", "ledger_entry_credit_id_42e36071"),
    ("ledger_entry", "purchase_id", "ledger_entry_purchase_id_150c5527"),
    ("ledger_lot", "business_id", "ledger_lot_business_id_6eaed261"),
    ("ledger_lot", "member_id", "ledger_lot_member_id_58606298"),
    ("ledger_lotmovement", "business_id", "ledger_lotmovement_business_id_3cd9afd4"),
    ("ledger_lotmovement", "entry_id", "ledger_lotmovement_entry_id_e59abd78"),
    ("ledger_giftcardmovement", "business_id", "ledger_giftcardmovement_business_id_c85a92f6"),
    ("ledger_giftcardmovement", "purchase_id", "ledger_giftcardmovement_purchase_id_7b2ab02b"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0004_reason_codes'),
        ('members', '0001_initial'),
        ('purchases', '0003_purchase_gift_credit_redeemed'),
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
                    model_name='account',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='account',
                    name='member',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, to='members.member'),
                ),
                migrations.AlterField(
                    model_name='entry',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='entry',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='entries', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='entry',
                    name='debit',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='debits', to='ledger.account'),
                ),
                migrations.AlterField(
                    model_name='entry',
                    name='credit',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='credits', to='ledger.account'),
                ),
                migrations.AlterField(
                    model_name='entry',
                    name='purchase',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to='purchases.purchase'),
                ),
                migrations.AlterField(
                    model_name='lot',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='lot',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lots', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='lotmovement',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='lotmovement',
                    name='entry',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='movements', to='ledger.entry'),
                ),
                migrations.AlterField(
                    model_name='giftcardmovement',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='giftcardmovement',
                    name='purchase',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to='purchases.purchase'),
                ),
            ],
        ),
    ]
