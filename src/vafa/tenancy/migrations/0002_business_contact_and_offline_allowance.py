from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        migrations.AddField("business", "contact_phone", models.CharField(blank=True, default="", max_length=32)),
        migrations.AddField("business", "contact_address", models.TextField(blank=True, default="")),
        migrations.AddField("business", "website", models.URLField(blank=True, default="", max_length=300)),
        migrations.AddField("business", "instagram", models.CharField(blank=True, default="", max_length=30)),
        migrations.AddField("business", "offline_spend_allowance", models.BigIntegerField(default=0)),
    ]
