"""``Task.schedule_enabled``: whether the task runs on its schedule, stored on the task.

Until now a schedule was "on" when the task had a scheduled job id. A task with a job id is
enabled. A task with a schedule but no job id was stopped, held (its command changed without
the launch permission), had its one-off run, or lost its schedule to a Redis outage: these
cannot be told apart, and running a task that somebody stopped is worse than leaving one that
an outage unscheduled paused (the task list says "paused" and Resume turns it back on), so it
is paused. A task without any schedule is enabled: a schedule given to it later is on.
"""

from django.db import migrations, models
from django.db.models import Q


def derive(apps, schema_editor):
    Task = apps.get_model("eztaskmanager", "Task")
    has_job = Q(scheduled_job_id__isnull=False) & ~Q(scheduled_job_id="")
    has_schedule = (
        Q(scheduling__isnull=False)
        | ~Q(cron_expression="")
        | (~Q(repetition_period="") & Q(repetition_rate__isnull=False))
    )
    Task.objects.exclude(has_job).filter(has_schedule).update(schedule_enabled=False)


class Migration(migrations.Migration):
    dependencies = [
        ("eztaskmanager", "0013_task_queue"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="schedule_enabled",
            field=models.BooleanField(
                default=True,
                help_text=(
                    "Untick to pause the schedule: the task keeps it but does not run on it until "
                    "it is resumed (Stop pauses it too). Tick it and save, or Resume, to turn it "
                    "back on."
                ),
                verbose_name="schedule on",
            ),
        ),
        migrations.RunPython(derive, migrations.RunPython.noop),
    ]
