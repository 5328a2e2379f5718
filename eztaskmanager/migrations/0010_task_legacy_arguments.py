from django.db import migrations, models

HELP_TEXT = (
    "Read the arguments as version 0.5 did (set on tasks created before the upgrade): every "
    "blank or '=' after an option separates words that are joined into one value, and there is "
    "no quoting. Untick it once the arguments follow the current rule."
)


class Migration(migrations.Migration):
    """Tasks existing before the upgrade keep 0.5.x's argument rule; new tasks do not.

    The column is added with True for every existing row, then its default becomes False.
    """

    dependencies = [
        ("eztaskmanager", "0009_run_guard_timeout_retries"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="legacy_arguments",
            field=models.BooleanField(
                default=True, help_text=HELP_TEXT, verbose_name="0.5.x argument rule"
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="legacy_arguments",
            field=models.BooleanField(
                default=False, help_text=HELP_TEXT, verbose_name="0.5.x argument rule"
            ),
        ),
    ]
