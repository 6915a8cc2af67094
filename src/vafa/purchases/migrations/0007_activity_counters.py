"""The activity counters (purchases.counters), written from the purchases, visits and effects there are."""

import django.db.models.deletion
from django.db import migrations, models


def backfill(apps, schema_editor):
    # A migration loads app code only when it runs, on its historical models.
    from vafa.purchases.counters import rebuild_counters

    rebuild_counters(*(apps.get_model("purchases", name) for name in ("ActivityCounter", "Purchase", "Visit",
                                                                      "RewardEffect")))


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0006_member_mobile_verified'),
        ('purchases', '0006_reason_codes'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ActivityCounter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('day', models.DateField()),
                ('value', models.BigIntegerField(default=0)),
                ('business', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='tenancy.business')),
                ('member', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='members.member')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('business', 'member', 'name', 'day'), name='counter_per_member_name_day')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
