"""Run lock, heartbeat, dead-run reaping, bounded logs, retries and stop (unit tier)."""

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from eztaskmanager import operations
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.runs import Heartbeat
from eztaskmanager.runs.guard import reap_orphans
from eztaskmanager.services import run_management_command
from tests.factories import running_report

pytestmark = pytest.mark.django_db

IMMEDIATE = override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate")


@IMMEDIATE
def test_launch_is_skipped_while_another_run_is_going(make_task):
    task = make_task("eztm_lines", "1, --level warning")
    running = running_report(task)
    report = run_management_command(task.pk)
    assert (report.invocation_result, report.failure_reason) == (
        "warnings",
        "skipped: already running",
    )
    assert list(report.logs.values_list("message", flat=True)) == [
        "Not run: skipped: already running."
    ]
    running.refresh_from_db()
    assert running.invocation_result == ""  # the real run is untouched


@IMMEDIATE
def test_overlap_allowed_runs_both(make_task):
    task = make_task("eztm_lines", "1, --level warning", allow_overlap=True)
    running_report(task)
    assert run_management_command(task.pk).invocation_result == "warnings"
    assert run_management_command(task.pk).failure_reason == ""


@IMMEDIATE
def test_a_dead_run_does_not_block_the_next(make_task):
    task = make_task("eztm_lines", "1, --level warning")
    running_report(task, heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert run_management_command(task.pk).failure_reason == ""


def test_redis_run_lock_is_owned_by_its_token(make_task, fake_backend):
    backend, task_id = fake_backend, make_task().pk
    assert backend.acquire_run_lock(task_id, "1", 45)
    assert not backend.acquire_run_lock(task_id, "2", 45)
    backend.release_run_lock(task_id, "2")  # not the owner: nothing happens
    assert not backend.acquire_run_lock(task_id, "2", 45)
    key = f"eztaskmanager:run-lock:{task_id}"
    fake_backend.connection.pexpire(key, 100)
    backend.renew_run_lock(task_id, "1", 45)
    assert fake_backend.connection.pttl(key) > 1000
    backend.release_run_lock(task_id, "1")
    assert backend.acquire_run_lock(task_id, "2", 45)


@IMMEDIATE
def test_reaper_closes_runs_that_stopped_beating(make_task):
    task = make_task()
    Task.objects.filter(pk=task.pk).update(status=Task.STATUS_STARTED)
    dead = running_report(task, heartbeat_at=timezone.now() - timedelta(seconds=30))
    alive = running_report(task)
    assert reap_orphans() == [dead.pk]
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.invocation_result, dead.failure_reason) == ("failed", "worker died")
    assert dead.finished_at is not None and dead.duration >= 0
    assert dead.logs.last().message == "Run ended: worker died."
    assert alive.invocation_result == ""
    task.refresh_from_db()
    assert (task.status, task.cached_last_invocation_result) == ("idle", "failed")
    assert reap_orphans() == []  # closed once


@IMMEDIATE
def test_reaper_keeps_the_stop_reason(make_task):
    task = make_task()
    report = running_report(
        task, heartbeat_at=timezone.now() - timedelta(seconds=30), stop_requested_by="alice"
    )
    reap_orphans()
    report.refresh_from_db()
    assert report.failure_reason == "stopped by alice"


@IMMEDIATE
def test_dead_run_is_retried_when_attempts_are_left(make_task):
    task = make_task("eztm_lines", "1, --level warning", max_retries=1, retry_delays="0")
    running_report(task, heartbeat_at=timezone.now() - timedelta(seconds=30), max_attempts=2)
    reap_orphans()
    reports = list(task.launchreport_set.order_by("id"))
    assert [(r.attempt, r.invocation_result) for r in reports] == [(1, "failed"), (2, "warnings")]


@IMMEDIATE
def test_failed_run_is_retried_with_numbered_attempts(make_task):
    task = make_task("eztm_fail", max_retries=2, retry_delays="0")
    run_management_command(task.pk)
    reports = list(task.launchreport_set.order_by("id"))
    assert [(r.attempt, r.max_attempts, r.invocation_result) for r in reports] == [
        (1, 3, "failed"),
        (2, 3, "failed"),
        (3, 3, "failed"),
    ]
    assert [r.attempt_label for r in reports] == [
        "attempt 1 of 3",
        "attempt 2 of 3",
        "attempt 3 of 3",
    ]
    assert reports[0].logs.filter(message="Attempt 2 of 3 planned in 0 s.").exists()
    assert not reports[2].logs.filter(message__startswith="Attempt 4").exists()


@IMMEDIATE
def test_errors_result_is_not_retried(make_task):
    task = make_task("eztm_lines", "1, --level error", max_retries=2, retry_delays="0")
    run_management_command(task.pk)
    assert task.launchreport_set.count() == 1


def test_retry_delays(make_task):
    task = make_task(retry_delays="30, 120", max_retries=4)
    assert [task.retry_delay(k) for k in (1, 2, 3, 4)] == [30, 120, 120, 120]
    task.retry_exponential = True
    assert [task.retry_delay(k) for k in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_retry_delays_are_validated(make_task):
    from django.core.exceptions import ValidationError

    task = make_task(retry_delays="soon")
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "whole seconds" in info.value.message_dict["retry_delays"][0]


def test_retry_on_rq_is_delayed_in_the_scheduler(make_task, fake_backend):
    from rq.job import Job

    from tests.conftest import fail_run

    task = make_task("eztm_fail", max_retries=2, retry_delays="90, 0")
    fail_run(task, fake_backend, max_attempts=3)
    key = fake_backend.scheduler.scheduled_jobs_key
    [(job_id, score)] = fake_backend.connection.zrange(key, 0, -1, withscores=True)
    job = Job.fetch(job_id.decode(), connection=fake_backend.connection)
    assert abs(score - (time.time() + 90)) < 5
    # The retry is recorded as a queued launch at once; its job carries that report.
    retry = LaunchReport.objects.get(rq_job_id=job.id)
    assert (retry.is_queued, retry.attempt) == (True, 2)
    assert job.kwargs == {"attempt": 2, "report_id": retry.pk}
    assert job.id.startswith(f"eztmr-{task.pk}-")
    # The second attempt fails too; the third has no delay: straight to the queue.
    fail_run(task, fake_backend, attempt=2, max_attempts=3)
    [now] = fake_backend.queue.jobs
    third = LaunchReport.objects.get(rq_job_id=now.id, attempt=3)
    assert now.kwargs == {"attempt": 3, "report_id": third.pk}
    assert now.id.startswith(f"eztmr-{task.pk}-")


@IMMEDIATE
@override_settings(EZTASKMANAGER_MAX_LOG_LINES=5)
def test_log_lines_past_the_limit_are_counted_not_stored(make_task):
    task = make_task("eztm_lines", "12, --level error")
    report = run_management_command(task.pk)
    report.refresh_from_db()
    assert report.logs.count() == 6
    assert (report.n_lines, report.n_dropped, report.n_errors) == (6, 7, 12)
    assert report.logs.last().message == (
        "7 more line(s) not stored: the limit is 5 lines per report."
    )
    assert report.invocation_result == "errors"


def test_stop_drops_queued_runs_and_closes_non_rq_runs(make_task, fake_backend):
    task = make_task(scheduling=timezone.now() + timedelta(hours=1))
    other = make_task(name="other")
    operations.schedule(task, fake_backend, defer=False)
    operations.launch(task, fake_backend, defer=False)
    kept = operations.launch(other, fake_backend, defer=False)
    report = running_report(task)  # a run with no RQ job (started in-process)

    assert operations.stop(task, "alice", fake_backend, defer=False).stopped_runs == 1

    assert fake_backend.queue.job_ids == [kept.id]
    assert fake_backend.scheduler.count() == 0
    report.refresh_from_db()
    assert (report.invocation_result, report.failure_reason) == ("failed", "stopped by alice")
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_stamps_the_report(make_task):
    task = make_task()
    report = running_report(task, heartbeat_at=timezone.now() - timedelta(hours=1))
    renewals = []
    beat = Heartbeat(report.pk, renew=lambda: renewals.append(1), interval=0.05).start()
    time.sleep(0.3)
    beat.stop()
    report.refresh_from_db()
    assert timezone.now() - report.heartbeat_at < timedelta(seconds=1)
    assert len(renewals) >= 2
