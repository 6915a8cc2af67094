"""A sync problem remembers the manager's last "send again": who, when, and how it went (a reason)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("till", "0003_sync_problem_reason_codes"),
    ]

    operations = [
        migrations.AddField(model_name="syncproblem", name="sent_again_by",
                            field=models.CharField(blank=True, default="", max_length=200)),
        migrations.AddField(model_name="syncproblem", name="sent_again_at",
                            field=models.DateTimeField(blank=True, null=True)),
        migrations.AddField(model_name="syncproblem", name="sent_again_code",
                            field=models.CharField(blank=True, default="", max_length=64)),
        migrations.AddField(model_name="syncproblem", name="sent_again_params",
                            field=models.JSONField(blank=True, default=dict)),
    ]
