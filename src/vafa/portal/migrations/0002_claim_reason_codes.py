"""Reasons are data: a rejected claim stores its reason as a code and parameters (vafa.core.reasons), the
manager's note; the sentences stored so far are kept as legacy_text (vafa.core.legacy_reasons)."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "portal", "PurchaseClaim")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "portal", "PurchaseClaim")


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0001_purchase_claims"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="purchaseclaim", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="purchaseclaim", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="purchaseclaim", name="reason"),
    ]
