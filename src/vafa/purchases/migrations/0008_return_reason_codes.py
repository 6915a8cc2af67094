"""Reasons are data: a return stores its reason as a code and parameters (vafa.core.reasons): a note a person
typed, or WooCommerce's order and refund; the sentences stored so far are read back (vafa.core.legacy_reasons),
and what is of no known shape is kept as legacy_text."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "purchases", "Return")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "purchases", "Return")


class Migration(migrations.Migration):

    dependencies = [
        ("purchases", "0007_activity_counters"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="return", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="return", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="return", name="reason"),
    ]
