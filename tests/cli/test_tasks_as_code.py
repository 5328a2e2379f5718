"""Tasks declared in code: create, update, unchanged, dry run, errors, files and export."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from eztaskmanager.backends import RQBackend
from eztaskmanager.cli.tasks_as_code import DeclarationError, export_tasks, load_tasks
from eztaskmanager.models import AppCommand, Task, TaskCategory
from tests.factories import make_report

pytestmark = pytest.mark.django_db

DECLARED = [
    {
        "name": "nightly import",
        "command": "eztm_lines",
        "arguments": "5, --level warning",
        "cron_expression": "30 2 * * *",
        "category": "Imports",
        "note": "Prices from the supplier.",
        "timeout": 600,
        "max_retries": 2,
        "retry_delays": "30, 120",
    },
    {"name": "echo", "command": "eztm_echo", "arguments": '--title "a, b"'},
]


def taskmanager(*args) -> str:
    out = io.StringIO()
    call_command("taskmanager", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def due(service, task) -> datetime:
    score = service.connection.zscore(service.scheduler.scheduled_jobs_key, task.scheduled_job_id)
    return datetime.fromtimestamp(score, tz=UTC)


def test_load_creates_tasks_and_schedules_the_scheduled_ones(real_redis):
    result = load_tasks(DECLARED)

    assert [(c.name, c.action) for c in result.changes] == [
        ("nightly import", "created"),
        ("echo", "created"),
    ]
    nightly = Task.objects.get(name="nightly import")
    assert nightly.command.name == "eztm_lines"
    assert nightly.arguments == "5, --level warning"
    assert nightly.category.name == "Imports"
    assert nightly.note == "Prices from the supplier."
    assert (nightly.timeout, nightly.max_retries, nightly.retry_delay(2)) == (600, 2, 120)
    assert nightly.status == "scheduled"
    service = RQBackend()
    assert due(service, nightly) == nightly.cached_next_ride
    local = timezone.localtime(nightly.cached_next_ride)
    assert (local.hour, local.minute) == (2, 30)
    echo = Task.objects.get(name="echo")
    assert echo.status == "idle" and echo.scheduled_job_id is None
    assert echo.complete_args == ["--title", "a, b"]


def test_load_again_changes_nothing(real_redis):
    load_tasks(DECLARED)
    job_id = Task.objects.get(name="nightly import").scheduled_job_id

    result = load_tasks(DECLARED)

    assert [c.action for c in result.changes] == ["unchanged", "unchanged"]
    assert Task.objects.get(name="nightly import").scheduled_job_id == job_id
    assert "0 created, 0 updated, 2 unchanged." in result.lines()[-1]


def test_update_changes_fields_reschedules_and_keeps_history(real_redis):
    load_tasks(DECLARED)
    nightly = Task.objects.get(name="nightly import")
    report = make_report(nightly, invocation_result="ok")
    old_job = nightly.scheduled_job_id
    changed = [dict(DECLARED[0], arguments="7", cron_expression="0 4 * * *"), DECLARED[1]]

    result = load_tasks(changed)

    assert result.changes[0].action == "updated"
    assert result.changes[0].fields == ["arguments", "cron_expression"]
    assert result.changes[0].schedule.startswith("next run ")
    assert result.changes[1].action == "unchanged"
    nightly = Task.objects.get(name="nightly import")
    assert (nightly.arguments, nightly.cron_expression) == ("7", "0 4 * * *")
    assert nightly.scheduled_job_id != old_job
    assert timezone.localtime(due(RQBackend(), nightly)).hour == 4
    assert list(nightly.launchreport_set.all()) == [report]  # history stays
    assert Task.objects.count() == 2


def test_removing_the_timing_unschedules(real_redis):
    load_tasks(DECLARED)
    no_timing = {k: v for k, v in DECLARED[0].items() if k != "cron_expression"}

    result = load_tasks([no_timing])

    assert result.changes[0].fields == ["cron_expression"]
    assert result.changes[0].schedule == "unscheduled"
    task = Task.objects.get(name="nightly import")
    assert (task.status, task.scheduled_job_id, task.cached_next_ride) == ("idle", None, None)
    service = RQBackend()
    assert real_redis.zcard(service.scheduler.scheduled_jobs_key) == 0


def test_a_repetition_keeps_its_start_between_loads(real_redis):
    declared = [{"name": "every 2 h", "command": "eztm_echo", "repetition_period": "hour",
                 "repetition_rate": 2}]  # fmt: skip
    load_tasks(declared)
    start = Task.objects.get(name="every 2 h").scheduling
    assert start is not None  # set at the first scheduling

    assert load_tasks(declared).changes[0].action == "unchanged"
    assert Task.objects.get(name="every 2 h").scheduling == start


def test_dry_run_shows_the_changes_and_applies_none(real_redis):
    load_tasks([DECLARED[1]])
    before = list(Task.objects.values())
    commands = AppCommand.objects.count()
    changed = [DECLARED[0], dict(DECLARED[1], note="new note")]

    result = load_tasks(changed, dry_run=True)

    assert [(c.action, c.fields) for c in result.changes] == [
        ("created", []),
        ("updated", ["note"]),
    ]
    assert result.changes[0].schedule == "would be scheduled"
    assert "1 would be created, 1 would be updated" in result.lines()[-1]
    assert list(Task.objects.values()) == before
    assert AppCommand.objects.count() == commands
    assert not TaskCategory.objects.exists()
    assert real_redis.zcard(RQBackend().scheduler.scheduled_jobs_key) == 0


def test_invalid_declarations_are_all_reported_and_nothing_is_written(real_redis):
    declared = [
        {"name": "fine", "command": "eztm_echo"},
        {"name": "no such command", "command": "does_not_exist"},
        {"name": "bad arguments", "command": "eztm_lines", "arguments": "many"},
        {"name": "bad cron", "command": "eztm_echo", "cron_expression": "61 * * * *"},
        {"name": "typo", "command": "eztm_echo", "argumnets": "x"},
        {"name": "fine", "command": "eztm_echo"},
        {"command": "eztm_echo"},
    ]

    with pytest.raises(DeclarationError) as raised:
        load_tasks(declared)

    errors = "\n".join(raised.value.errors)
    assert "Task 'no such command': unknown command 'does_not_exist'" in errors
    assert "Task 'bad arguments': arguments: " in errors and "invalid int value" in errors
    assert "Task 'bad cron': cron_expression: '61 * * * *' is not a valid cron" in errors
    assert "Task 'typo': unknown field(s) argumnets" in errors
    assert "Task 'fine': declared twice." in errors
    assert "Task #7: 'name' is required" in errors
    assert not Task.objects.exists()


def test_load_command_reads_a_json_file_or_the_setting(tmp_path, settings, real_redis):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(DECLARED))

    dry = json.loads(taskmanager("load", str(path), "--dry-run", "--json"))
    assert (dry["dry_run"], dry["created"]) == (True, 2)
    assert not Task.objects.exists()

    output = taskmanager("load", str(path))
    assert "created    nightly import" in output
    assert "2 created, 0 updated, 0 unchanged." in output

    settings.EZTASKMANAGER_TASKS = [dict(DECLARED[1], arguments="--count 3")]
    output = taskmanager("load")
    assert "updated    echo  (arguments)" in output
    assert Task.objects.get(name="echo").arguments == "--count 3"

    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "command": "nope"}]')
    with pytest.raises(CommandError, match="No task was changed:\n  Task 'x': unknown command"):
        taskmanager("load", str(bad))
    with pytest.raises(CommandError, match="is not valid JSON"):
        bad.write_text("[{")
        taskmanager("load", str(bad))


def test_export_writes_declarations_that_load_unchanged(tmp_path, real_redis):
    yaml = pytest.importorskip("yaml")
    start = timezone.now() + timedelta(days=1)
    load_tasks(DECLARED + [{"name": "later", "command": "eztm_echo", "scheduling": start}])
    make_report(Task.objects.get(name="echo"), invocation_result="ok")

    exported = json.loads(taskmanager("export"))
    assert exported == export_tasks()
    assert [item["name"] for item in exported] == ["echo", "later", "nightly import"]
    assert exported[0] == DECLARED[1]
    assert exported[2] == DECLARED[0]
    assert datetime.fromisoformat(exported[1]["scheduling"]) == start
    assert exported[1]["scheduling"].endswith(("+01:00", "+02:00"))  # in TIME_ZONE

    path = tmp_path / "tasks.yaml"
    taskmanager("export", "--format", "yaml", "--output", str(path))
    assert yaml.safe_load(path.read_text()) == exported
    output = taskmanager("load", str(path))
    assert "0 created, 0 updated, 3 unchanged." in output


def test_a_missed_run_alert_is_declared_loaded_and_exported(real_redis):
    declared = [dict(DECLARED[1], alert_after_minutes=90)]
    load_tasks(declared)
    assert Task.objects.get(name="echo").alert_after_minutes == 90
    assert export_tasks() == declared
    result = load_tasks([DECLARED[1]])  # left out: back to no alert
    assert result.changes[0].fields == ["alert_after_minutes"]
    assert Task.objects.get(name="echo").alert_after_minutes is None
