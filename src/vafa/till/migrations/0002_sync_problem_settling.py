"""The manager settles a sync problem: resolved or dismissed, with a note, by whom and when."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('till', '0001_sync_problem'),
    ]

    operations = [
        migrations.AddField(
            model_name='syncproblem',
            name='note',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='syncproblem',
            name='settled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='syncproblem',
            name='settled_by',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='syncproblem',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('resolved', 'Resolved'), ('dismissed', 'Dismissed')], default='open', max_length=16),
        ),
        migrations.AddIndex(
            model_name='syncproblem',
            index=models.Index(fields=['business', 'status', '-created_at'], name='till_sync_problem_status'),
        ),
    ]
