from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("eztaskmanager", "0010_task_legacy_arguments"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="schedule_error",
            field=models.TextField(
                blank=True, default="", editable=False, verbose_name="schedule error"
            ),
        ),
    ]
