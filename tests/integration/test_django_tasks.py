"""``@task`` functions enqueued through Django's task API run on a real TaskWorker, and their
results read back through the same API: values, exceptions, retries, a stop, a timeout, queues.
"""

from __future__ import annotations

import pytest

from eztaskmanager import operations
from eztaskmanager.internals import djangotasks
from eztaskmanager.models import LaunchReport, Task
from tests.integration.conftest import manage, stop_firings, wait_for

pytestmark = pytest.mark.skipif(
    not djangotasks.AVAILABLE, reason="needs Django 6 or the django-tasks package"
)

if djangotasks.AVAILABLE:
    from tests.testapp import tasks as functions

Status = djangotasks.TaskResultStatus
WORKER = ("rqworker", "--worker-class", "eztaskmanager.worker.TaskWorker")


def drain(*queues: str) -> None:
    done = manage(*WORKER, "--burst", *queues)
    assert done.returncode == 0, done.stderr


def test_calls_run_on_a_task_worker_and_read_back(processes, real_redis):
    added = functions.add.enqueue(2, b=40)
    failed = functions.fail.enqueue("broken")
    doubled = functions.async_double.enqueue(4)
    high = functions.on_high.enqueue("loud")
    assert added.status == Status.READY and added.enqueued_at is not None
    assert functions.add.get_result(added.id).status == Status.READY

    drain("default")
    added.refresh()
    assert (added.status, added.return_value, added.attempts) == (Status.SUCCESSFUL, 42, 1)
    assert added.worker_ids == [LaunchReport.objects.get(call_id=added.id).worker]
    failed.refresh()
    assert failed.status == Status.FAILED
    assert [error.exception_class for error in failed.errors] == [ValueError]
    assert functions.async_double.get_result(doubled.id).return_value == 8
    # The call on queue "high" waits for a worker of that queue.
    assert functions.on_high.get_result(high.id).status == Status.READY
    drain("high")
    assert functions.on_high.get_result(high.id).return_value == "LOUD"

    report = LaunchReport.objects.get(call_id=added.id)
    assert report.invocation_result == LaunchReport.RESULT_OK
    assert "sum is 42" in report.log_tail()


def test_a_retried_call_keeps_its_id_and_counts_its_attempts(processes, real_redis):
    functions.attempt_number.enqueue()  # makes the function's task, to give it retries
    drain("default")
    Task.objects.filter(name=functions.attempt_number.module_path).update(
        max_retries=2, retry_delays="0"
    )
    result = functions.attempt_number.enqueue(fail_before=3)
    drain("default")  # the burst worker runs the retries it queues itself
    result = wait_for(
        lambda: (r := functions.attempt_number.get_result(result.id)).is_finished and r,
        what="the call's last attempt",
    )
    assert (result.status, result.attempts) == (Status.SUCCESSFUL, 3)
    assert result.return_value == {"attempt": 3, "id": result.id}
    assert [error.exception_class for error in result.errors] == [RuntimeError, RuntimeError]


def test_a_stopped_and_a_timed_out_call_fail_with_what_ended_them(processes, real_redis):
    from eztaskmanager.records.calls import RunStopped

    functions.sleep_for.enqueue(0)
    drain("default")
    task = Task.objects.get(name=functions.sleep_for.module_path)
    stopped = functions.sleep_for.enqueue(60)
    processes.start(*WORKER, "default")
    report = wait_for(
        lambda: LaunchReport.objects.filter(call_id=stopped.id, n_lines__gt=0).first(),
        what="the call to start",
    )
    assert functions.sleep_for.get_result(stopped.id).status == Status.RUNNING
    operations.stop_run(report, by="tester")
    stopped = wait_for(
        lambda: (r := functions.sleep_for.get_result(stopped.id)).is_finished and r,
        what="the stopped call to end",
    )
    assert stopped.status == Status.FAILED
    [error] = stopped.errors
    assert error.exception_class is RunStopped and "stopped by tester" in error.traceback

    Task.objects.filter(pk=task.pk).update(timeout=1)
    timed_out = functions.sleep_for.enqueue(30)
    timed_out = wait_for(
        lambda: (r := functions.sleep_for.get_result(timed_out.id)).is_finished and r,
        what="the timed-out call to end",
    )
    assert timed_out.status == Status.FAILED
    [error] = timed_out.errors
    assert error.exception_class.__name__ == "JobTimeoutException"
    assert LaunchReport.objects.get(call_id=timed_out.id).ending == LaunchReport.ENDING_TIMED_OUT


def test_a_deferred_call_waits_for_its_time_then_starts_at_once(processes, real_redis):
    import statistics
    from datetime import timedelta

    from django.utils import timezone

    from tests.integration.conftest import patience

    processes.start("taskmanager", "scheduler")
    processes.start(*WORKER, "default")
    base = timezone.now() + timedelta(seconds=3)
    calls = [
        functions.add.using(run_after=base + timedelta(seconds=0.5 * i)).enqueue(i)
        for i in range(6)
    ]
    assert {call.status for call in calls} == {Status.READY}
    done = wait_for(
        lambda: all(functions.add.get_result(call.id).is_finished for call in calls),
        what="the deferred calls",
    )
    assert done
    lateness = []
    for i, call in enumerate(calls):
        result = functions.add.get_result(call.id)
        assert (result.status, result.return_value) == (Status.SUCCESSFUL, i)
        due = base + timedelta(seconds=0.5 * i)
        assert LaunchReport.objects.get(call_id=call.id).run_after == due
        lateness.append((result.started_at - due).total_seconds())
    print(
        f"deferred-call lateness over {len(lateness)} calls: min {min(lateness):.3f} s, "
        f"median {statistics.median(lateness):.3f} s, max {max(lateness):.3f} s"
    )
    assert min(lateness) >= 0, lateness  # never early
    # The bound under test: each started within a second of its time (the scheduler wakes
    # for the due time, a worker takes the job at once); scaled for a loaded machine.
    assert max(lateness) < patience(1.0), lateness


def test_a_function_on_cron_fires_once_with_two_schedulers(processes, rq_service, monkeypatch):
    """A task naming a @task function, on a cron schedule, with two schedulers: each minute's
    firing leaves one report, whose call has a result. (It waits for the next minute.)"""
    from eztaskmanager.models import AppCommand
    from eztaskmanager.operations.commands import collect_commands
    from tests.integration.conftest import enqueued_firings

    collect_commands()
    task = Task.objects.create(
        name="sum every minute",
        command=AppCommand.objects.get(name=functions.add.module_path),
        arguments='{"args": [20], "kwargs": {"b": 22}}',
        cron_expression="* * * * *",
    )
    rq_service.add(task)
    task.refresh_from_db()
    job_id = task.scheduled_job_id
    schedulers = [
        processes.start("taskmanager", "-v", "2", "scheduler", "--interval", "0.1")
        for _ in range(2)
    ]
    processes.start(*WORKER, "default")
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="the first cron firing",
    )
    stop_firings(task, rq_service.connection, job_id)
    wait_for(
        lambda: not LaunchReport.objects.filter(task=task, invocation_result="").exists(),
        what="a result for every launch",
    )
    dues = [due for s in schedulers for due in enqueued_firings(processes.output(s), job_id)]
    assert len(dues) == len(set(dues)) >= 1, dues  # each minute sent once, by one scheduler
    assert all(due % 60 == 0 for due in dues), dues  # on the minute
    assert LaunchReport.objects.filter(task=task).count() == len(dues)
    result = functions.add.get_result(report.call_id)
    assert (result.status, result.return_value, result.kwargs) == (
        Status.SUCCESSFUL,
        42,
        {"b": 22},
    )
