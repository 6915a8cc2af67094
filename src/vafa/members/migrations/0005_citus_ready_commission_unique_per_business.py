# Citus needs business_id in every unique constraint: a OneToOneField (unique alone) becomes a ForeignKey
# with a unique constraint that starts with business_id (docs/scaling.md).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0004_club_status_and_plan'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='commission',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='commissions', to='members.member'),
        ),
        migrations.AddConstraint(
            model_name='commission',
            constraint=models.UniqueConstraint(fields=('business', 'member'), name='commission_once_per_member'),
        ),
    ]
