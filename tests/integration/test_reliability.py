"""Faults injected into real workers: killed horses and workers, SIGTERM, overlap, timeouts,
retries, stop requests and a Redis that goes away."""

import os
import signal
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from rq import Worker

from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.scheduler.sync import sync_schedules
from eztaskmanager.services.queues import TaskQueueException
from tests.conftest import rq_service_on
from tests.integration.conftest import (
    descendants,
    in_both_worker_modes,
    manage,
    patience,
    rqworker,
    wait_for,
    wait_process,
)


def running(task):
    return wait_for(
        lambda: LaunchReport.objects.filter(task=task, invocation_result="", n_lines__gt=0).first(),
        what="the run to start and log",
    )


def finished(task):
    return wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="the run to end",
    )


@in_both_worker_modes
def test_killed_horse_is_closed_at_once_by_task_worker(
    processes, rq_service, make_task, worker_class
):
    task = make_task("eztm_sleep", "30")
    rq_service.launch(task)
    worker = processes.start(*rqworker(worker_class))
    report = running(task)
    horse = wait_for(lambda: descendants(worker.pid), what="the work horse")[0]
    os.kill(horse, signal.SIGKILL)
    # No scheduler runs here to find the orphan: only the TaskWorker can have closed it.
    report = finished(task)
    assert (report.invocation_result, report.failure_reason) == ("failed", "worker died")
    assert report.logs.filter(message="sleeping 30.0 s").exists()  # partial log kept
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_IDLE
    # The next run works, in a new horse.
    following = make_task("eztm_horse")
    rq_service.launch(following)
    report = finished(following)
    assert report.invocation_result == "warnings"
    assert report.logs.filter(message__startswith="pid=").get().message != f"pid={horse}"


def test_lost_machine_is_found_by_heartbeat(processes, rq_service, make_task):
    """Worker and horse killed together (as with a lost machine): the scheduler's check."""
    task = make_task("eztm_sleep", "30")
    rq_service.launch(task)
    worker = processes.start("rqworker", "default")
    running(task)
    horse = wait_for(lambda: descendants(worker.pid), what="the work horse")[0]
    killed_at = time.monotonic()
    for pid in (worker.pid, horse):
        os.kill(pid, signal.SIGKILL)
    processes.start("taskmanager", "scheduler", "--interval", "0.2")
    report = finished(task)
    waited = time.monotonic() - killed_at
    assert (report.invocation_result, report.failure_reason) == ("failed", "worker died")
    # The bound under test: ORPHAN_AFTER_SECONDS (3 s in tests; 45 s by default, so under 60 s)
    # plus the scheduler's start and a beat, the part a loaded machine stretches (x factor).
    assert waited < 3 + patience(5), waited


@in_both_worker_modes
def test_sigterm_lets_a_short_run_finish(processes, rq_service, make_task, worker_class):
    task = make_task("eztm_sleep", "3")
    rq_service.launch(task)
    worker = processes.start(*rqworker(worker_class))
    running(task)
    os.kill(worker.pid, signal.SIGTERM)
    wait_process(worker)
    report = finished(task)
    assert report.invocation_result == "warnings"  # eztm_sleep logs at WARNING: it completed
    assert report.logs.filter(message="woke up").exists()


@in_both_worker_modes
def test_sigterm_past_the_grace_period_interrupts(processes, rq_service, make_task, worker_class):
    task = make_task("eztm_sleep", "60")
    rq_service.launch(task)
    worker = processes.start(*rqworker(worker_class))
    running(task)
    os.kill(worker.pid, signal.SIGTERM)
    wait_process(worker)  # grace is 3 s in the test settings: the result says it was used
    report = finished(task)
    assert (report.invocation_result, report.failure_reason) == ("failed", "interrupted")
    assert not LaunchReport.objects.filter(invocation_result="").exists()


@in_both_worker_modes
def test_second_sigterm_is_a_cold_shutdown_that_closes_the_run(
    processes, rq_service, make_task, worker_class
):
    task = make_task("eztm_sleep", "60")
    rq_service.launch(task)
    worker = processes.start(*rqworker(worker_class))
    running(task)
    os.kill(worker.pid, signal.SIGTERM)
    time.sleep(1.2)  # rq ignores a second signal within one second
    os.kill(worker.pid, signal.SIGTERM)
    wait_process(worker)
    report = finished(task)
    assert (report.invocation_result, report.failure_reason) == ("failed", "interrupted")


@in_both_worker_modes
@pytest.mark.parametrize("allow_overlap", [False, True])
def test_overlapping_launches(processes, rq_service, make_task, allow_overlap, worker_class):
    # Both launches must be taken while the first still runs: the workers are up before the
    # launches (a loaded machine may start one worker seconds after the other), and the run lasts
    # 2 s times the factor.
    task = make_task("eztm_sleep", f"{patience(2):g}", allow_overlap=allow_overlap)
    processes.start(*rqworker(worker_class))
    processes.start(*rqworker(worker_class))
    wait_for(lambda: len(Worker.all(connection=rq_service.connection)) == 2, what="both workers up")
    rq_service.launch(task)
    rq_service.launch(task)
    wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").count() == 2,
        what="both launches to end",
    )
    reasons = sorted(
        LaunchReport.objects.filter(task=task).values_list("failure_reason", flat=True)
    )
    if allow_overlap:
        assert reasons == ["", ""]
    else:
        assert reasons == ["", "skipped: already running"]


@in_both_worker_modes
def test_timeout_fails_the_run_and_keeps_its_log(processes, rq_service, make_task, worker_class):
    task = make_task("eztm_lines", "100, --level warning, --pause 0.1", timeout=2)
    rq_service.launch(task)
    drained = manage(*rqworker(worker_class), "--burst")
    assert drained.returncode == 0, drained.stderr
    report = LaunchReport.objects.get(task=task)
    assert (report.invocation_result, report.failure_reason) == ("failed", "timeout after 2 s")
    assert report.ending == "timed out"
    lines = list(report.logs.order_by("lineno").values_list("message", flat=True))
    assert 5 < len(lines) < 100
    assert lines[0] == "line 1 of 100"
    assert "JobTimeoutException" in lines[-1]


@in_both_worker_modes
def test_failing_task_with_two_retries_leaves_three_reports(
    processes, rq_service, make_task, worker_class
):
    task = make_task("eztm_fail", max_retries=2, retry_delays="0")
    rq_service.launch(task)
    drained = manage(*rqworker(worker_class), "--burst")
    assert drained.returncode == 0, drained.stderr
    reports = list(LaunchReport.objects.filter(task=task).order_by("id"))
    assert [(r.attempt, r.max_attempts, r.invocation_result) for r in reports] == [
        (1, 3, "failed"),
        (2, 3, "failed"),
        (3, 3, "failed"),
    ]


@in_both_worker_modes
def test_delayed_retry_goes_through_the_scheduler(processes, rq_service, make_task, worker_class):
    task = make_task("eztm_fail", max_retries=1, retry_delays="1")
    rq_service.launch(task)
    processes.start("taskmanager", "scheduler", "--interval", "0.1")
    processes.start(*rqworker(worker_class))
    wait_for(
        lambda: (
            LaunchReport.objects.filter(task=task, attempt=2).exclude(invocation_result="").exists()
        ),
        what="the second attempt",
    )
    first, second = LaunchReport.objects.filter(task=task).order_by("id")
    assert (second.started_at - first.finished_at) >= timedelta(seconds=1)


@in_both_worker_modes
def test_stop_ends_a_running_task_within_seconds(processes, rq_service, make_task, worker_class):
    task = make_task("eztm_sleep", "60")
    rq_service.launch(task)
    processes.start(*rqworker(worker_class))
    running(task)
    asked = time.monotonic()
    assert rq_service.stop(task, by="tester") == 1
    report = finished(task)
    # The bound under test: a stop request reaches the horse within seconds (the run would
    # otherwise sleep 60 s); scaled by the factor for a loaded machine.
    assert time.monotonic() - asked < patience(5)
    assert (report.invocation_result, report.failure_reason) == ("failed", "stopped by tester")
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_IDLE


def test_redis_down_then_back(private_redis, make_task, transactional_db):
    service = rq_service_on(redis.Redis(port=private_redis["port"], socket_connect_timeout=0.5))
    tasks = [
        make_task(
            name="daily",
            scheduling=timezone.now() + timedelta(hours=1),
            repetition_period="day",
            repetition_rate=1,
        ),
        make_task(name="cron", cron_expression="0 4 * * *"),
    ]
    for task in tasks:
        service.add(task)

    private_redis["process"].terminate()
    wait_process(private_redis["process"])
    with pytest.raises(TaskQueueException, match="not reachable"):
        service.launch(tasks[0])
    assert Task.objects.filter(status=Task.STATUS_SCHEDULED).count() == 2  # nothing lost

    private_redis["process"] = private_redis["start"]()  # back, empty
    result = sync_schedules(service.backend)
    assert sorted(result.restored) == sorted(t.pk for t in tasks)
    assert service.scheduler.count() == 2
