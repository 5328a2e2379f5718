from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('eztaskmanager', '0012_runs_with_arguments_follow_ups_alerts'),
    ]

    operations = [
        migrations.AddField(
            model_name='task',
            name='queue',
            field=models.CharField(blank=True, default='', help_text='The RQ queue its runs go to (one of RQ_QUEUES); empty: the default queue (EZTASKMANAGER_QUEUE_NAME).', max_length=100, verbose_name='queue'),
        ),
    ]
