"""Scheduling with real Redis, real ``taskmanager scheduler`` and ``rqworker`` processes."""

import statistics
from datetime import timedelta

from django.utils import timezone

from eztaskmanager.models import LaunchReport, Task
from tests.conftest import manage
from tests.integration.conftest import wait_for


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

    wait_for(lambda: finished_reports().count() == 10, timeout=40, what="10 scheduled runs")

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
    assert max(lateness) < 1.5, lateness


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
    real_redis.flushdb()  # our db: other runs share the server
    wait_for(lambda: real_redis.zcard(key) == 3, timeout=10, what="the scheduler's own sync")


def test_two_schedulers_two_workers_one_report_per_firing(processes, rq_service, make_task):
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
    for _ in range(2):
        processes.start("taskmanager", "scheduler", "--interval", "0.1")
        processes.start("rqworker", "default")

    wait_for(lambda: finished_reports(task=task).count() >= 6, timeout=40, what="6 firings")
    processes.stop_all()

    started = sorted(finished_reports(task=task).values_list("started_at", flat=True))
    firings = [(s - start).total_seconds() for s in started]
    # One report per firing: each run belongs to a distinct 2-second slot, none repeated.
    slots = [round(f / 2) for f in firings]
    assert len(slots) == len(set(slots)), firings
    assert slots == list(range(slots[0], slots[0] + len(slots))), firings
