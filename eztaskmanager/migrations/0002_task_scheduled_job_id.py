from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("eztaskmanager", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="scheduled_job_id",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
    ]
