"""Reasons are data: each entry and gift card movement stores a reason code and its parameters instead of a
sentence (vafa.core.reasons); the sentences stored so far are read back into codes (vafa.core.legacy_reasons)."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "ledger", "Entry", note_kinds=("adjust",))
    legacy_reasons.forward(apps, "ledger", "GiftCardMovement")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "ledger", "Entry")
    legacy_reasons.backward(apps, "ledger", "GiftCardMovement")


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_alter_account_kind"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="entry", name="reason_code", field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="entry", name="reason_params", field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="giftcardmovement", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="giftcardmovement", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(model_name="entry", name="reason", field=models.TextField(default="")),
        migrations.AlterField(model_name="giftcardmovement", name="reason",
                              field=models.CharField(default="", max_length=300)),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="entry", name="reason"),
        migrations.RemoveField(model_name="giftcardmovement", name="reason"),
    ]
