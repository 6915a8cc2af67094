from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0004_idempotency_namespace"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="progress",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="interrupted",
            field=models.BooleanField(default=False),
        ),
    ]
