"""A cache token on the business (program.cache): processes re-read its program and branches when it changes."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenancy', '0002_business_contact_and_offline_allowance'),
    ]

    operations = [
        migrations.AddField(
            model_name='business',
            name='cache_token',
            field=models.BigIntegerField(default=0),
        ),
    ]
