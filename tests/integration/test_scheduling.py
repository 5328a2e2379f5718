"""Scheduling with real Redis, real ``taskmanager scheduler`` and ``rqworker`` processes."""

import statistics
from datetime import timedelta

from django.utils import timezone

from eztaskmanager.backends.rq import SEEN_KEY
from eztaskmanager.models import LaunchReport, Task
from tests.integration.conftest import (
    enqueued_firings,
    manage,
    patience,
    stop_firings,
    wait_for,
)


def finished_reports(**filters):
    return LaunchReport.objects.filter(**filters).exclude(invocation_result="")


def test_point_runs_start_on_time(processes, rq_service, make_task):
    base = timezone.now() + timedelta(seconds=4)
    tasks = [
        make_task(
            "eztm_lines",
            "1, --level warning",
            name=f"point {i}",
            scheduling=base + timedelta(seconds=0.6 * i),
        )
        for i in range(10)
    ]
    for task in tasks:
        rq_service.add(task)
    processes.start("taskmanager", "scheduler", "--interval", "0.1")
    worker = processes.start("rqworker", "default")

    wait_for(lambda: finished_reports().count() == 10, what="10 scheduled runs")

    lateness = []
    for task in tasks:
        report = LaunchReport.objects.get(task=task)
        assert report.invocation_result == "warnings", processes.output(worker)
        lateness.append((report.started_at - task.scheduling).total_seconds())
    print(
        f"point-run lateness over 10 runs: min {min(lateness):.3f} s, "
        f"median {statistics.median(lateness):.3f} s, max {max(lateness):.3f} s"
    )
    assert min(lateness) >= 0, lateness  # never early
    # Started in the order they were due (one worker, 0.6 s apart), whatever the load.
    by_start = sorted(tasks, key=lambda t: LaunchReport.objects.get(task=t).started_at)
    assert [t.pk for t in by_start] == [t.pk for t in tasks]
    # The bound under test: each run started within 1.5 s of its due time (the scheduler's
    # 0.1 s interval plus a worker's pick-up); scaled by the factor for a loaded machine.
    assert max(lateness) < patience(1.5), lateness


def test_flushall_then_sync_restores_schedules(processes, rq_service, real_redis, make_task):
    soon = timezone.now() + timedelta(hours=2)
    tasks = [
        make_task(name="one-off", scheduling=soon),
        make_task(name="daily", scheduling=soon, repetition_period="day", repetition_rate=1),
        make_task(name="cron", cron_expression="15 3 * * *"),
    ]
    for task in tasks:
        rq_service.add(task)
    expected = {t.pk: Task.objects.get(pk=t.pk).cached_next_ride for t in tasks}
    key = rq_service.scheduler.scheduled_jobs_key

    real_redis.flushdb()  # our db: other runs share the server
    assert real_redis.zcard(key) == 0
    synced = manage("taskmanager", "sync")
    assert synced.returncode == 0, synced.stderr
    assert "3 restored" in synced.stdout
    assert real_redis.zcard(key) == 3
    for task in Task.objects.filter(pk__in=expected):
        assert task.status == Task.STATUS_SCHEDULED
        assert abs(task.cached_next_ride - expected[task.pk]) < timedelta(seconds=1)
        assert real_redis.zscore(key, task.scheduled_job_id) is not None

    # The scheduler syncs by itself: within one sync period after FLUSHALL everything is back.
    processes.start("taskmanager", "scheduler", "--interval", "0.2", "--sync-interval", "1")
    # Up and looping first (its start on a loaded machine is no part of the bound below).
    wait_for(lambda: real_redis.exists(SEEN_KEY), what="the scheduler's first beat")
    real_redis.flushdb()  # our db: other runs share the server
    # The bound under test: one sync period (1 s) and a loop, with room (x factor).
    wait_for(lambda: real_redis.zcard(key) == 3, timeout=10, what="the scheduler's own sync")


def test_two_schedulers_two_workers_one_report_per_firing(
    processes, rq_service, make_task, monkeypatch
):
    # Every report is counted against the firings: none may be pruned (a loaded machine fires
    # more than the ten a task keeps by default before the test stops the schedule).
    monkeypatch.setenv("EZTM_N_REPORTS_INLINE", "1000")
    start = timezone.now() + timedelta(seconds=3)
    task = make_task(
        "eztm_lines",
        "1, --level warning",
        name="every 2 s",
        scheduling=start,
        repetition_period="second",
        repetition_rate=2,
    )
    rq_service.add(task)
    task.refresh_from_db()
    job_id = task.scheduled_job_id
    schedulers = []
    for _ in range(2):
        schedulers.append(
            processes.start("taskmanager", "-v", "2", "scheduler", "--interval", "0.1")
        )
        processes.start("rqworker", "default")

    wait_for(lambda: finished_reports(task=task).count() >= 6, what="6 firings")
    # No more firings; then every launch sent runs to its end before the processes stop.
    stop_firings(task, rq_service.connection, job_id)
    wait_for(
        lambda: not LaunchReport.objects.filter(task=task, invocation_result="").exists(),
        what="a result for every launch",
    )
    dues = sorted(
        due
        for scheduler in schedulers
        for due in enqueued_firings(processes.output(scheduler), job_id)
    )
    processes.stop_all()

    # One report per firing: the two schedulers together sent each due time once, each a slot
    # of the schedule (2 s apart from its start), and each firing left exactly one report. The
    # schedulers' own record, not the runs' start times: a loaded machine delays a run.
    offsets = [round(due - start.timestamp(), 3) / 2 for due in dues]
    assert len(dues) >= 6, dues
    assert len(set(dues)) == len(dues), offsets
    assert all(offset == int(offset) for offset in offsets), offsets
    assert LaunchReport.objects.filter(task=task).count() == len(dues), offsets
