"""``manage.py taskmanager`` subcommands run as processes, against the real Redis and workers."""

import json
from datetime import timedelta

from django.utils import timezone

from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.services.queues import RQTaskQueueService
from tests.integration.conftest import TASK_WORKER_CLASS, manage, rqworker, wait_for

TASK_WORKER = rqworker(TASK_WORKER_CLASS)


def taskmanager(*args: str):
    return manage("taskmanager", *args)


def as_json(*args: str):
    done = taskmanager(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_run_on_a_worker_then_list_and_logs(processes, make_task):
    task = make_task("eztm_lines", "3, --level warning", name="three lines")

    launched = taskmanager("run", "three lines")
    assert launched.returncode == 0, launched.stderr
    assert f"Queued 'three lines' (task {task.pk}) for a worker as job eztm-{task.pk}-" in (
        launched.stdout
    )
    drained = manage("rqworker", "--burst", "default")
    assert drained.returncode == 0, drained.stderr

    [row] = as_json("list")
    assert (row["name"], row["last_result"], row["status"]) == ("three lines", "warnings", "idle")
    report = LaunchReport.objects.get(task=task)
    lines = [
        json.loads(line)
        for line in taskmanager("logs", str(report.pk), "--json").stdout.splitlines()
    ]
    assert [line["message"] for line in lines[:-1]] == [f"line {i} of 3" for i in (1, 2, 3)]
    assert lines[-1]["report"]["result"] == "warnings"


def test_status_sees_the_worker_the_scheduler_and_the_schedule(processes, make_task):
    processes.start(*TASK_WORKER)
    start = timezone.now() + timedelta(hours=1)
    task = make_task(
        name="every hour", scheduling=start, repetition_period="hour", repetition_rate=1
    )
    launched = taskmanager("run", "every hour")  # and a run now, that the worker takes
    assert launched.returncode == 0, launched.stderr
    RQTaskQueueService().schedule(task)
    # Started once the schedule is in Redis: a sync running while the schedule is written
    # could give the task a job of its own too (the next sync removes the one left over).
    processes.start("taskmanager", "scheduler")

    def alive():
        data = as_json("status")
        return data if data["workers"] and data["schedulers"] else None

    data = wait_for(alive, interval=0.5, what="worker and scheduler in the status")
    assert data["redis"]["reachable"] is True
    assert len(data["workers"]) == 1 and data["workers"][0]["queues"] == ["default"]
    assert len(data["schedulers"]) == 1
    assert [job["task"] for job in data["scheduled"]] == ["every hour"]
    wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").exists(),
        what="the launched run",
    )
    text = taskmanager("status").stdout
    assert "Workers alive: 1" in text and "Schedulers alive: 1" in text
    assert "warnings 1" in text


def test_run_sync_in_the_foreground(processes, make_task):
    make_task("eztm_lines", "2, --level warning", name="two")
    make_task("eztm_fail", name="boom")

    done = taskmanager("run", "two", "--sync")
    assert done.returncode == 0, done.stderr
    assert "WARNING - line 1 of 2" in done.stdout and "WARNING - line 2 of 2" in done.stdout
    assert "': warnings (2 lines" in done.stdout

    failed = taskmanager("run", "boom", "--sync")
    assert failed.returncode == 1
    assert "WARNING - about to fail" in failed.stdout
    assert "CommandError: The run ended with result 'failed'." in failed.stderr
    assert "Traceback" not in failed.stderr


def test_logs_follow_and_stop_of_a_running_task(processes, make_task):
    task = make_task("eztm_lines", "4, --level warning, --pause 0.4", name="slow lines")
    sleeper = make_task("eztm_sleep", "30", name="sleeper")
    processes.start(*TASK_WORKER)
    assert taskmanager("run", "slow lines").returncode == 0
    report = wait_for(lambda: LaunchReport.objects.filter(task=task).first(), what="the run")

    followed = taskmanager("logs", str(report.pk), "--follow")
    assert followed.returncode == 0, followed.stderr
    for i in range(1, 5):
        assert f"WARNING - line {i} of 4" in followed.stdout
    assert f"Run {report.pk} of 'slow lines': warnings (4 lines" in followed.stdout

    assert taskmanager("run", str(sleeper.pk)).returncode == 0
    wait_for(
        lambda: LaunchReport.objects.filter(task=sleeper, n_lines__gt=0).exists(),
        what="the sleeper to start",
    )
    stopped = taskmanager("stop", "sleeper")
    assert stopped.returncode == 0, stopped.stderr
    assert "1 running run(s) asked to stop" in stopped.stdout
    ended = wait_for(
        lambda: LaunchReport.objects.filter(task=sleeper).exclude(invocation_result="").first(),
        what="the stopped run to close",
    )
    assert ended.invocation_result == "failed"
    assert ended.failure_reason.startswith("stopped by ")
    assert ended.failure_reason.endswith("(command line)")
    assert Task.objects.get(pk=sleeper.pk).status == "idle"


def test_unknown_task_is_a_message_not_a_traceback(processes):
    done = taskmanager("run", "nothing like this")
    assert done.returncode == 1
    assert "CommandError: No task has the id or name 'nothing like this'." in done.stderr
    assert "Traceback" not in done.stderr
