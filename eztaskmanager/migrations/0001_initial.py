# Schema of django-eztaskmanager 0.5.x, kept identical so existing databases migrate forward.

import django.db.models.deletion
from django.db import migrations, models

RESULTS = [
    ("", "---"),
    ("ok", "OK"),
    ("failed", "FAILED"),
    ("errors", "ERRORS"),
    ("warnings", "WARNINGS"),
]


def pk():
    return ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                      verbose_name="ID"))


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AppCommand",
            fields=[
                pk(),
                ("name", models.CharField(max_length=100)),
                ("app_name", models.CharField(max_length=100)),
                ("active", models.BooleanField(default=True)),
            ],
            options={"verbose_name": "Command", "verbose_name_plural": "Commands"},
        ),
        migrations.CreateModel(
            name="LaunchReport",
            fields=[
                pk(),
                ("invocation_result",
                 models.CharField(choices=RESULTS, default="", max_length=20)),
                ("invocation_datetime", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="TaskCategory",
            fields=[pk(), ("name", models.CharField(max_length=255))],
            options={
                "verbose_name": "Task category",
                "verbose_name_plural": "Tasks categories",
            },
        ),
        migrations.CreateModel(
            name="Log",
            fields=[
                pk(),
                ("timestamp", models.DateTimeField(auto_now_add=True)),
                ("level", models.CharField(max_length=10)),
                ("message", models.TextField()),
                ("launch_report", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="logs",
                    to="eztaskmanager.launchreport")),
            ],
            options={"ordering": ["timestamp"]},
        ),
        migrations.CreateModel(
            name="Task",
            fields=[
                pk(),
                ("name", models.CharField(max_length=255)),
                ("arguments", models.TextField(blank=True)),
                ("status", models.CharField(
                    choices=[("idle", "IDLE"), ("spooled", "SPOOLED"),
                             ("scheduled", "SCHEDULED"), ("started", "STARTED")],
                    default="idle", editable=False, max_length=20)),
                ("scheduling", models.DateTimeField(blank=True, null=True)),
                ("repetition_period", models.CharField(
                    blank=True, max_length=20,
                    choices=[("minute", "MINUTE"), ("hour", "HOUR"), ("day", "DAY"),
                             ("month", "MONTH")])),
                ("repetition_rate", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("note", models.TextField(blank=True, null=True)),
                ("cached_last_invocation_datetime",
                 models.DateTimeField(blank=True, null=True, verbose_name="Last datetime")),
                ("cached_last_invocation_result", models.CharField(
                    blank=True, choices=RESULTS, max_length=20, null=True,
                    verbose_name="Last result")),
                ("cached_last_invocation_n_errors",
                 models.PositiveIntegerField(blank=True, null=True, verbose_name="Errors")),
                ("cached_last_invocation_n_warnings",
                 models.PositiveIntegerField(blank=True, null=True, verbose_name="Warnings")),
                ("cached_next_ride",
                 models.DateTimeField(blank=True, null=True, verbose_name="Next")),
                ("command", models.ForeignKey(
                    limit_choices_to={"active": True},
                    on_delete=django.db.models.deletion.CASCADE, to="eztaskmanager.appcommand")),
                ("category", models.ForeignKey(
                    blank=True, null=True, on_delete=django.db.models.deletion.DO_NOTHING,
                    to="eztaskmanager.taskcategory")),
            ],
            options={"verbose_name": "Task", "verbose_name_plural": "Tasks"},
        ),
        migrations.AddField(
            model_name="launchreport",
            name="task",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                    to="eztaskmanager.task"),
        ),
    ]
