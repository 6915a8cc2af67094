"""Reasons are data: each remembered effect and issued reward stores the engine's reason code and parameters
instead of a sentence (vafa.core.reasons); the sentences stored so far are read back into codes
(vafa.core.legacy_reasons)."""

from django.db import migrations, models

from vafa.core import legacy_reasons


def forward(apps, schema_editor):
    legacy_reasons.forward(apps, "purchases", "RewardEffect")
    legacy_reasons.forward(apps, "purchases", "IssuedReward")


def backward(apps, schema_editor):
    legacy_reasons.backward(apps, "purchases", "RewardEffect")
    legacy_reasons.backward(apps, "purchases", "IssuedReward")


class Migration(migrations.Migration):

    dependencies = [
        ("purchases", "0005_rewards_held_and_payment_fields"),
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="rewardeffect", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="rewardeffect", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(model_name="issuedreward", name="reason_code",
                            field=models.CharField(default="note", max_length=64)),
        migrations.AddField(model_name="issuedreward", name="reason_params",
                            field=models.JSONField(blank=True, default=dict)),
        migrations.AlterField(model_name="rewardeffect", name="reason", field=models.TextField(default="")),
        migrations.AlterField(model_name="issuedreward", name="reason", field=models.TextField(default="")),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(model_name="rewardeffect", name="reason"),
        migrations.RemoveField(model_name="issuedreward", name="reason"),
    ]
