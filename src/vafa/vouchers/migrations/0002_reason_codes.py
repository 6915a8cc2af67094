"""Reasons are data: a redemption stores its discount's reason as a code and parameters (vafa.core.reasons)
instead of a sentence; sentences stored so far are kept as legacy_text (vafa.core.legacy_reasons)."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "vouchers", "Redemption")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "vouchers", "Redemption")


class Migration(migrations.Migration):

    dependencies = [
        ("vouchers", "0001_initial"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="redemption", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="redemption", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="redemption", name="reason"),
    ]
