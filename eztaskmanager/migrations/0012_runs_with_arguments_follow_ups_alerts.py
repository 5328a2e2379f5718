import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('eztaskmanager', '0011_task_schedule_error'),
    ]

    operations = [
        migrations.AddField(
            model_name='launchreport',
            name='arguments',
            field=models.TextField(blank=True, help_text='The arguments this run was given.', null=True, verbose_name='arguments'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='triggered_by',
            field=models.ForeignKey(blank=True, help_text='The run whose end launched this one, for a follow-up task.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='follow_up_runs', to='eztaskmanager.launchreport', verbose_name='triggered by'),
        ),
        migrations.AddField(
            model_name='task',
            name='alert_after_minutes',
            field=models.PositiveIntegerField(blank=True, help_text='Alert the notification handlers when no run has ended ok or with warnings for this many minutes (and once more when a run succeeds again). Empty: no alert.', null=True, verbose_name='alert after (minutes)'),
        ),
        migrations.AddField(
            model_name='task',
            name='alert_counted_from',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='overdue_since',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='overdue since'),
        ),
        migrations.CreateModel(
            name='FollowUp',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('results', models.CharField(default='ok', help_text='Results that launch it, comma separated: ok, warnings, errors, failed.', max_length=40, verbose_name='when the run ends')),
                ('task', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='follow_ups', to='eztaskmanager.task')),
                ('then', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='follows', to='eztaskmanager.task', verbose_name='then launch')),
            ],
            options={
                'verbose_name': 'Follow-up task',
                'verbose_name_plural': 'Follow-up tasks',
                'constraints': [models.UniqueConstraint(fields=('task', 'then'), name='eztm_followup_unique')],
            },
        ),
    ]
