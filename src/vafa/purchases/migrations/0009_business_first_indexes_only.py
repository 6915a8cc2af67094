"""The single-column indexes Django made for these foreign keys, dropped (issue 11): each is either the
business_id one, redundant beside the business-first indexes every read of these tables goes through, or one
whose reads all name business_id and have a business-first index of their own (docs/benchmarks.md "Database
cost"). Every purchase, return or visit wrote each of them, and PostgreSQL read accounts through member_id's.
Only the index goes: the foreign key constraints stay, on both databases, without the table rebuild (SQLite) or
the constraint's re-validation (PostgreSQL) an AlterField would make."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = [  # table, column, the index Django named for the foreign key
    ("purchases_purchase", "business_id", "purchases_purchase_business_id_2bf3f61c"),
    ("purchases_purchase", "member_id", "purchases_purchase_member_id_bdee8a70"),
    ("purchases_purchase", "branch_id", "purchases_purchase_branch_id_f766eba9"),
    ("purchases_purchaseline", "business_id", "purchases_purchaseline_business_id_a0470135"),
    ("purchases_visit", "business_id", "purchases_visit_business_id_04ad6b2d"),
    ("purchases_activityevent", "business_id", "purchases_activityevent_business_id_a44b76e3"),
    ("purchases_activityevent", "member_id", "purchases_activityevent_member_id_edb0e2e9"),
    ("purchases_rewardeffect", "business_id", "purchases_rewardeffect_business_id_f5b8601f"),
    ("purchases_rewardeffect", "member_id", "purchases_rewardeffect_member_id_153500fb"),
    ("purchases_issuedreward", "business_id", "purchases_issuedreward_business_id_e4b47590"),
    ("purchases_issuedreward", "member_id", "purchases_issuedreward_member_id_41c4705a"),
    ("purchases_return", "business_id", "purchases_return_business_id_5787ce2e"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0001_initial'),
        ('purchases', '0008_return_reason_codes'),
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
                    model_name='purchase',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='purchase',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='purchases', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='purchase',
                    name='branch',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, to='tenancy.branch'),
                ),
                migrations.AlterField(
                    model_name='purchaseline',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='visit',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='activityevent',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='activityevent',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='activity_events', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='rewardeffect',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='rewardeffect',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='reward_effects', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='issuedreward',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
                migrations.AlterField(
                    model_name='issuedreward',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='issued_rewards', to='members.member'),
                ),
                migrations.AlterField(
                    model_name='return',
                    name='business',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business'),
                ),
            ],
        ),
    ]
