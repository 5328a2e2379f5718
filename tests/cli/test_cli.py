"""``manage.py taskmanager`` list, status, run, stop and logs, called as a user would."""

import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone
from rq import Queue, Worker

from eztaskmanager import cli, operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.scheduler.process import TaskScheduler
from eztaskmanager.services import run_management_command
from tests.factories import make_lines, make_user, running_report

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def taskmanager(*args, out=None) -> str:
    out = out or io.StringIO()
    call_command("taskmanager", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def manage(*args, env=None, timeout=60):
    """``python -m django taskmanager ...`` in a subprocess, with no settings in its environment."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "django", "taskmanager", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.redis  # the run takes its lock in the real Redis
def test_list_shows_status_last_result_and_next_run_in_local_time(make_task):
    next_run = datetime(2030, 1, 15, 1, 30, tzinfo=UTC)  # 02:30 in Europe/Rome
    cron = make_task(name="nightly", cron_expression="30 2 * * *")
    Task.objects.filter(pk=cron.pk).update(status="scheduled", cached_next_ride=next_run)
    done = make_task("eztm_lines", "1", name="done once")
    run_management_command(done.pk)

    rows = {row["name"]: row for row in json.loads(taskmanager("list", "--json"))}

    assert rows["nightly"]["status"] == "scheduled"
    assert rows["nightly"]["schedule"] == "cron 30 2 * * *"
    assert rows["nightly"]["next_run"] == "2030-01-15T02:30:00+01:00"
    assert rows["nightly"]["last_result"] is None
    assert rows["done once"]["last_result"] == "ok"
    assert rows["done once"]["id"] == done.pk
    assert rows["done once"]["command"] == "eztm_lines"
    table = taskmanager("list")
    assert table.splitlines()[0].split() == [
        "ID", "NAME", "STATUS", "LAST", "RESULT", "LAST", "RUN", "NEXT", "RUN", "SCHEDULE", "QUEUE",
    ]  # fmt: skip
    assert "2030-01-15 02:30:00" in table
    assert "cron 30 2 * * *" in table


def test_unknown_and_ambiguous_names_are_clear_errors(make_task):
    make_task(name="import prices")
    twin_a = make_task(name="twin")
    twin_b = make_task(name="twin")

    with pytest.raises(CommandError, match=r"No task has the id or name 'import price'") as err:
        taskmanager("run", "import price")
    assert "Did you mean 'import prices'?" in str(err.value)
    with pytest.raises(CommandError, match=rf"2 tasks are named 'twin' \(ids {twin_a.pk}, "):
        taskmanager("stop", "twin")
    assert cli.resolve_task(str(twin_b.pk)) == twin_b
    with pytest.raises(CommandError, match="No launch report has the id 999"):
        taskmanager("logs", "999")


def test_run_puts_the_task_on_the_queue(make_task, real_redis, django_capture_on_commit_callbacks):
    task = make_task(name="queued one")

    with django_capture_on_commit_callbacks(execute=True):
        output = taskmanager("run", "queued one")

    job_ids = Queue("default", connection=real_redis).job_ids
    assert len(job_ids) == 1 and job_ids[0].startswith(f"eztm-{task.pk}-")
    assert output.startswith(f"Queued 'queued one' (task {task.pk}) for a worker")
    assert Task.objects.get(pk=task.pk).status == "spooled"


def test_run_sync_runs_here_echoes_the_log_and_stores_the_report(make_task, real_redis):
    task = make_task("eztm_lines", "3, --level warning", name="three lines")

    output = taskmanager("run", str(task.pk), "--sync")

    report = LaunchReport.objects.get(task=task)
    assert report.invocation_result == "warnings"
    for i in range(1, 4):
        assert f"WARNING - line {i} of 3" in output
    assert f"Run {report.pk} of 'three lines': warnings (3 lines" in output
    assert Queue("default", connection=real_redis).count == 0  # not queued: run here


def test_run_sync_of_a_failing_task_exits_with_an_error(make_task, real_redis):
    task = make_task("eztm_fail", "--how commanderror", name="bad")

    with pytest.raises(CommandError, match="ended with result 'failed'"):
        taskmanager("run", "bad", "--sync")

    report = LaunchReport.objects.get(task=task)
    assert report.failure_reason == "CommandError: bad input given"


def test_stop_unschedules_the_task(make_task, real_redis, committed):
    task = make_task(name="hourly", repetition_period="hour", repetition_rate=1)
    backend = RQBackend()
    operations.schedule(task, backend, defer=False)
    assert real_redis.zcard(backend.scheduler.scheduled_jobs_key) == 1

    with committed():
        output = taskmanager("stop", "hourly")

    assert output.startswith("Stopped 'hourly'")
    task.refresh_from_db()
    assert (task.status, task.scheduled_job_id) == ("idle", None)
    assert real_redis.zcard(backend.scheduler.scheduled_jobs_key) == 0


def test_logs_prints_the_lines_and_json_lines(make_task, real_redis):
    task = make_task("eztm_lines", "2, --level warning", name="two")
    report = run_management_command(task.pk)

    text = taskmanager("logs", str(report.pk))
    assert "WARNING - line 1 of 2" in text and "WARNING - line 2 of 2" in text
    assert f"Run {report.pk} of 'two': warnings (2 lines" in text

    objects = [
        json.loads(line) for line in taskmanager("logs", str(report.pk), "--json").splitlines()
    ]
    assert [o["message"] for o in objects[:2]] == ["line 1 of 2", "line 2 of 2"]
    assert objects[0]["n"] == 1 and objects[0]["level"] == "WARNING"
    assert objects[-1]["report"]["result"] == "warnings"


@pytest.mark.django_db(transaction=True)
def test_logs_follow_prints_new_lines_until_the_run_ends(make_task):
    task = make_task(name="long")
    report = running_report(task, heartbeat=False)

    def run():
        try:
            for n in (1, 2, 3):
                time.sleep(0.2)
                make_lines(report, f"step {n}")
            LaunchReport.objects.filter(pk=report.pk).update(invocation_result="ok")
        finally:
            connections.close_all()

    writer = threading.Thread(target=run)
    lines = []
    writer.start()
    cli.logs(report.pk, lines.append, follow=True, poll_interval=0.05)
    writer.join()

    assert [line.rsplit(" - ", 1)[1] for line in lines[:3]] == ["step 1", "step 2", "step 3"]
    assert lines[-1].startswith(f"Run {report.pk} of 'long': ok")


def test_status_json_counts_queues_workers_schedulers_and_runs(
    make_task, real_redis, django_capture_on_commit_callbacks
):
    backend = RQBackend()
    scheduled = make_task(name="later", scheduling=timezone.now() + timedelta(hours=2))
    operations.schedule(scheduled, backend, defer=False)
    with django_capture_on_commit_callbacks(execute=True):
        operations.launch(make_task(name="queued"), backend, defer=False)
    Worker(["default"], connection=real_redis, name="w1").register_birth()
    TaskScheduler(queue=backend.queue, connection=real_redis, name="s1").register_birth()
    gone = TaskScheduler(queue=backend.queue, connection=real_redis, name="s2")
    gone.register_birth()
    gone.register_death()
    ran = make_task("eztm_fail", name="bad")
    run_management_command(ran.pk)
    running_report(ran, heartbeat=False)  # still running

    data = json.loads(taskmanager("status", "--json"))

    assert data["redis"]["reachable"] is True
    queues = {queue.pop("name"): queue for queue in data["queues"]}
    assert queues["default"] == {"queued": 1, "started": 0, "failed": 0}
    assert set(queues) == {"default", "high", "low", "quick"}  # every queue of RQ_QUEUES
    assert [w["name"] for w in data["workers"]] == ["w1"]
    assert [s["name"] for s in data["schedulers"]] == ["s1"]
    assert data["scheduled_total"] == 1
    [job] = data["scheduled"]
    assert (job["task_id"], job["task"]) == (scheduled.pk, "later")
    assert job["job_id"] == Task.objects.get(pk=scheduled.pk).scheduled_job_id
    assert data["runs_24h"] == {
        "ok": 0,
        "warnings": 0,
        "errors": 0,
        "failed": 1,
        "running": 1,
        "queued": 1,  # the launch of "queued", recorded before it reached Redis
    }
    assert data["running"]["count"] == 1
    assert data["queued"]["count"] == 1

    text = taskmanager("status")
    assert "Workers alive: 1" in text and "Schedulers alive: 1" in text
    assert "Scheduled jobs: 1" in text and "later" in text
    assert "Runs in the last 24 h: ok 0, warnings 0, errors 0, failed 1, running 1" in text


@pytest.mark.django_db(transaction=True)
def test_status_says_when_redis_is_down(settings, make_task):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}

    out = io.StringIO()
    with pytest.raises(CommandError, match="not reachable") as err:
        taskmanager("status", "--json", out=out)
    assert err.value.returncode == cli.UNREACHABLE == 3
    data = json.loads(out.getvalue())  # printed all the same
    assert data["redis"]["reachable"] is False
    assert data["redis"]["location"] == "127.0.0.1:1/0"
    assert data["workers"] == [] and data["runs_24h"]["ok"] == 0
    out = io.StringIO()
    with pytest.raises(CommandError, match="not reachable"):
        taskmanager("status", out=out)
    assert "NOT REACHABLE" in out.getvalue()
    with pytest.raises(CommandError, match="was not launched: The task queue") as err:
        taskmanager("run", str(make_task().pk))
    assert err.value.returncode == 3


def test_run_and_stop_are_recorded_as_the_command_line_or_the_named_user(
    make_task, real_redis, committed
):
    from django.contrib.auth.models import Permission

    from eztaskmanager.operations import audit

    task = make_task(name="audited")
    with committed():
        taskmanager("run", "audited")
    bob = make_user("bob")
    with pytest.raises(CommandError, match="'bob' may not launch or stop tasks"):
        taskmanager("stop", "audited", "--user", "bob")
    with pytest.raises(CommandError, match="No active user named 'nobody'"):
        taskmanager("run", "audited", "--user", "nobody")
    bob.user_permissions.add(Permission.objects.get(codename="launch_task"))
    with committed():
        taskmanager("stop", "audited", "--user", "bob")

    entries = [(e.user.username, e.change_message) for e in audit.history(task)]
    assert entries == [("eztaskmanager-cli", "Launched"), ("bob", "Stopped by bob (command line)")]


# -- Django's options and exit statuses -----------------------------------------------------------


def test_djangos_options_are_accepted_after_the_subcommand(make_task):
    make_task(name="listed")

    assert "listed" in taskmanager("list", "--verbosity", "2", "--no-color", "--traceback")
    assert "listed" in taskmanager("list", "--settings", "tests.settings", "--pythonpath", ".")
    assert "listed" in taskmanager("-v", "0", "list", "--skip-checks", "--force-color")


def test_settings_and_pythonpath_after_the_subcommand_and_an_unreachable_database(tmp_path):
    """A settings module found through ``--pythonpath``, both given after the subcommand; its
    database cannot be opened: the exit status says so (3), and no usage error is printed."""
    (tmp_path / "nodb_settings.py").write_text(
        "from tests.settings import *  # noqa\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',\n"
        f"    'NAME': {str(tmp_path / 'missing' / 'db.sqlite3')!r}}}}}\n"
    )

    for subcommand in (["status"], ["list"], ["logs", "1"]):
        done = manage(*subcommand, "--settings", "nodb_settings", "--pythonpath", str(tmp_path))
        assert done.returncode == 3, done.stderr
        assert "The database is not reachable" in done.stderr
        assert "unrecognized arguments" not in done.stderr


def test_a_usage_error_exits_with_2_and_an_unknown_task_with_1(make_task):
    assert manage("status", "--no-such-option", "--settings", "tests.settings").returncode == 2
    with pytest.raises(CommandError, match="No task has the id or name") as err:
        taskmanager("run", "nothing of the kind")
    assert err.value.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_subcommands_that_need_redis_exit_with_3_when_it_is_down(settings, make_task):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    task = make_task(name="needs redis")

    for args in (
        ["status"],
        ["status", "--json"],
        ["run", "needs redis"],
        ["run", "needs redis", "--sync"],
        ["stop", "needs redis"],
        ["sync"],
    ):
        with pytest.raises(CommandError, match="not reachable") as err:
            taskmanager(*args)
        assert err.value.returncode == 3, args
    assert not LaunchReport.objects.filter(task=task).exists()
    from eztaskmanager.operations import audit

    launches = [e for e in audit.history(task) if e.change_message.startswith("Launched")]
    assert launches == []  # refused by the queue: no launch in the history


@pytest.mark.django_db(transaction=True)
def test_status_exits_0_without_redis_when_the_backend_needs_none(settings):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"

    assert "NOT REACHABLE" in taskmanager("status")  # said, but no failure


@pytest.mark.django_db(transaction=True)
def test_a_scheduler_pass_fails_at_once_when_redis_is_down(settings):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}

    started = time.monotonic()
    with pytest.raises(CommandError, match=r"Redis at 127.0.0.1:1 is not reachable") as err:
        taskmanager("scheduler", "--burst")
    assert err.value.returncode == 3
    assert time.monotonic() - started < 10


def test_run_prints_the_report_id_and_the_live_log_address(
    make_task, real_redis, settings, django_capture_on_commit_callbacks
):
    settings.EZTASKMANAGER_BASE_URL = ""
    task = make_task(name="printed")

    with django_capture_on_commit_callbacks(execute=True):
        output = taskmanager("run", "printed")
    report = LaunchReport.objects.get(task=task)
    assert f"report {report.pk}." in output
    assert f"Log: /eztaskmanager/livelogviewer/{report.pk}/" in output
    assert f"taskmanager logs {report.pk} --follow" in output

    settings.EZTASKMANAGER_BASE_URL = "https://ops.example.com/"
    with django_capture_on_commit_callbacks(execute=True):
        output = taskmanager("run", "printed")
    second = LaunchReport.objects.filter(task=task).latest("pk")
    assert f"Log: https://ops.example.com/eztaskmanager/livelogviewer/{second.pk}/" in output
