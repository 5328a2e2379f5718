"""A database created by 0.5.x (migrations 0001-0003) migrates forward with every row kept."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

LEGACY = [("eztaskmanager", "0003_alter_task_cached_next_ride_alter_task_scheduling")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def head():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes("eztaskmanager")


@pytest.mark.django_db(transaction=True)
def test_legacy_database_migrates_forward_with_rows():
    old = migrate(LEGACY)
    try:
        columns = {
            c.name
            for c in connection.introspection.get_table_description(
                connection.cursor(), "eztaskmanager_task"
            )
        }
        assert "scheduled_job_id" in columns and "notification_level" not in columns

        AppCommand = old.get_model("eztaskmanager", "AppCommand")
        Category = old.get_model("eztaskmanager", "TaskCategory")
        Task = old.get_model("eztaskmanager", "Task")
        Report = old.get_model("eztaskmanager", "LaunchReport")
        Log = old.get_model("eztaskmanager", "Log")
        command = AppCommand.objects.create(name="eztm_echo", app_name="tests.testapp")
        category = Category.objects.create(name="imports")
        when = datetime(2030, 5, 1, 3, 0, tzinfo=UTC)
        task = Task.objects.create(
            name="nightly",
            command=command,
            category=category,
            status="scheduled",
            arguments="-f, --title hello world, --count=3",
            scheduling=when,
            repetition_period="month",
            repetition_rate=1,
            note="legacy note",
            scheduled_job_id="abc123",
            cached_last_invocation_result="errors",
            cached_last_invocation_n_errors=1,
            cached_last_invocation_n_warnings=2,
            cached_next_ride=when,
        )
        report = Report.objects.create(task=task, invocation_result="errors")
        levels = ["INFO", "WARNING", "ERROR", "WARNING", "INFO"]
        for i, level in enumerate(levels):
            Log.objects.create(launch_report=report, level=level, message=f"old line {i}")

        new = migrate(head())
        Task = new.get_model("eztaskmanager", "Task")
        Report = new.get_model("eztaskmanager", "LaunchReport")
        Log = new.get_model("eztaskmanager", "Log")
        task = Task.objects.get(name="nightly")
        assert (task.command.name, task.category.name, task.status) == (
            "eztm_echo",
            "imports",
            "scheduled",
        )
        assert task.arguments == "-f, --title hello world, --count=3"
        assert (task.scheduling, task.cached_next_ride) == (when, when)
        assert (task.repetition_period, task.repetition_rate, task.note) == (
            "month",
            1,
            "legacy note",
        )
        assert task.scheduled_job_id == "abc123"
        assert (
            task.cached_last_invocation_result,
            task.cached_last_invocation_n_errors,
            task.cached_last_invocation_n_warnings,
        ) == ("errors", 1, 2)
        assert task.notification_level == ""
        report = Report.objects.get(task=task)
        assert report.invocation_result == "errors"
        assert (report.n_lines, report.n_errors, report.n_warnings) == (5, 1, 2)
        assert report.started_at == report.invocation_datetime
        lines = list(
            Log.objects.filter(launch_report=report)
            .order_by("lineno")
            .values_list("lineno", "message")
        )
        assert lines == [(i + 1, f"old line {i}") for i in range(5)]
    finally:
        migrate(head())


@pytest.mark.django_db(transaction=True)
def test_tasks_existing_before_0010_keep_the_050_argument_rule():
    before = migrate([("eztaskmanager", "0009_run_guard_timeout_retries")])
    try:
        AppCommand = before.get_model("eztaskmanager", "AppCommand")
        Task = before.get_model("eztaskmanager", "Task")
        command = AppCommand.objects.create(name="eztm_echo", app_name="tests.testapp")
        Task.objects.create(name="old", command=command, arguments="--title=hello world")

        after = migrate([("eztaskmanager", "0010_task_legacy_arguments")])
        Task = after.get_model("eztaskmanager", "Task")
        assert Task.objects.get(name="old").legacy_arguments is True
        new = Task.objects.create(name="new", command_id=command.pk)
        assert new.legacy_arguments is False
    finally:
        migrate(head())
