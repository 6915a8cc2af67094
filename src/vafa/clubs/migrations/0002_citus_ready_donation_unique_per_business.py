# Citus needs business_id in every unique constraint: a OneToOneField (unique alone) becomes a ForeignKey
# with a unique constraint that starts with business_id (docs/scaling.md).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clubs', '0001_initial'),
        ('ledger', '0003_alter_account_kind'),
        ('tenancy', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='donation',
            name='entry',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='ledger.entry'),
        ),
        migrations.AddConstraint(
            model_name='donation',
            constraint=models.UniqueConstraint(fields=('business', 'entry'), name='donation_once_per_entry'),
        ),
    ]
