"""Reasons are data: a sync problem stores why the server refused as a code and parameters (till.refused:
the error's code and field problems), worded in the reader's language when read; the sentences stored so far,
in the operator's language of the day, are kept as legacy_text (vafa.core.legacy_reasons)."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "till", "SyncProblem")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "till", "SyncProblem")


class Migration(migrations.Migration):

    dependencies = [
        ("till", "0002_sync_problem_settling"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="syncproblem", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="syncproblem", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(model_name="syncproblem", name="reason", field=models.TextField(default="")),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="syncproblem", name="reason"),
    ]
