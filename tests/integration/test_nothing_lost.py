"""Nothing lost, nothing stops: faults injected under real workers and a real scheduler.

Workers killed with their work horses in the middle of hundreds of launches, a Redis server
killed and restarted, a Redis wiped under a running scheduler, and a task whose schedule never
fires beside a task that runs every two seconds.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from rq import Worker

from eztaskmanager import operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import LaunchReport, Task
from tests.integration.conftest import (
    TASK_WORKER_CLASS,
    descendants,
    enqueued_firings,
    in_both_worker_modes,
    manage,
    patience,
    rqworker,
    wait_for,
    wait_process,
)

TASK_WORKER = rqworker(TASK_WORKER_CLASS)
SCHEDULER = ("taskmanager", "scheduler", "--interval", "0.2")
NEVER = "0 0 31 2 *"


def unfinished() -> int:
    return LaunchReport.objects.filter(invocation_result="").count()


def results_count() -> int:
    return LaunchReport.objects.exclude(invocation_result="").count()


def kill_worker_with_its_horse(worker) -> None:
    horses = wait_for(lambda: descendants(worker.pid), what="a work horse")
    for pid in (worker.pid, *horses):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@in_both_worker_modes
def test_hundreds_of_launches_survive_killed_workers(processes, make_task, worker_class):
    """Every launch ends with exactly one report that has a result, whatever was killed."""
    backend = RQBackend()
    # Ten launches per task: each task keeps its last ten reports (N_REPORTS_INLINE).
    tasks = [make_task("eztm_sleep", "0.05", name=f"t{n}", allow_overlap=True) for n in range(30)]
    launches = 300
    for n in range(launches):
        operations.launch(tasks[n % len(tasks)], backend, defer=False)
    assert LaunchReport.objects.filter(started_at__isnull=True).count() == launches
    workers = [processes.start(*rqworker(worker_class)) for _ in range(3)]
    scheduler = processes.start(*SCHEDULER)
    for victim, after in ((workers[0], 60), (workers[1], 150)):
        wait_for(lambda a=after: results_count() >= a, what=f"{after} results")
        kill_worker_with_its_horse(victim)
    processes.start(*rqworker(worker_class))  # the lost capacity comes back, as a supervisor would

    wait_for(lambda: unfinished() == 0, what="every launch to end")
    assert LaunchReport.objects.count() == launches  # none lost, none run twice
    wait_for(
        lambda: (
            not Task.objects.filter(status__in=[Task.STATUS_SPOOLED, Task.STATUS_STARTED]).exists()
        ),
        what="no task left spooled or started",
    )
    reasons = list(LaunchReport.objects.values_list("failure_reason", flat=True))
    assert set(reasons) <= {"", "worker died"}, set(reasons)
    resent = processes.output(scheduler).count("whose job was lost")
    print(
        f"killed workers: {launches} launches, {LaunchReport.objects.count()} reports, "
        f"{reasons.count('worker died')} closed 'worker died', {resent} sweep(s) sent lost "
        f"launches again, {unfinished()} without a result"
    )


def use_private_redis(settings, port: int) -> RQBackend:
    """Point this test and the processes it starts at the Redis server on ``port``."""
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    return RQBackend(connection=redis.Redis(port=port, socket_connect_timeout=0.5))


def every_two_seconds(make_task):
    return make_task(
        name="every 2 s",
        scheduling=timezone.now(),
        repetition_period="second",
        repetition_rate=2,
    )


def runs_of(task) -> list:
    return list(
        LaunchReport.objects.filter(task=task)
        .exclude(invocation_result="")
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )


@in_both_worker_modes
def test_redis_killed_and_restarted_under_everything(
    processes, private_redis, settings, make_task, worker_class
):
    backend = use_private_redis(settings, private_redis["port"])
    ticking = every_two_seconds(make_task)
    operations.schedule(ticking, backend, defer=False)
    long_run = make_task("eztm_sleep", "6", name="long")
    operations.launch(long_run, backend, defer=False)
    scheduler = processes.start(*SCHEDULER)
    workers = [processes.start(*rqworker(worker_class)) for _ in range(2)]
    wait_for(
        lambda: LaunchReport.objects.filter(task=long_run, started_at__isnull=False).exists(),
        what="the long run to start",
    )
    wait_for(lambda: len(Worker.all(connection=backend.connection)) == 2, what="2 workers")

    private_redis["process"].kill()
    wait_process(private_redis["process"])
    time.sleep(4)  # the outage: a loaded machine only makes it longer
    private_redis["process"] = private_redis["start"]()  # back, and empty
    back = timezone.now()

    wait_for(
        lambda: any(when > back for when in runs_of(ticking)),
        # The bound under test: back within 5 s, plus a run's own start and finish (x factor).
        timeout=5 + 3,
        what="the periodic task to run again",
    )
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=long_run).exclude(invocation_result="").first(),
        what="the long run to end",
    )
    assert report.invocation_result == "warnings", report.failure_reason  # it completed
    assert [p.poll() for p in (scheduler, *workers)] == [None, None, None]  # nobody exited


def test_flushall_under_a_running_scheduler(processes, private_redis, settings, make_task):
    backend = use_private_redis(settings, private_redis["port"])
    ticking = every_two_seconds(make_task)
    operations.schedule(ticking, backend, defer=False)
    processes.start(*SCHEDULER, "--sync-interval", "600")  # no periodic sync to help it
    processes.start(*TASK_WORKER)
    wait_for(lambda: runs_of(ticking), what="a first periodic run")
    one_off = make_task(name="one-off", scheduling=timezone.now() + timedelta(seconds=3))
    operations.schedule(one_off, backend, defer=False)

    backend.connection.flushall()
    wiped = timezone.now()

    wait_for(
        lambda: any(when > wiped for when in runs_of(ticking)),
        # The bound under test: back within 5 s (no periodic sync: the wiped marker tells the
        # scheduler), plus a run's own start and finish (x factor).
        timeout=5 + 3,
        what="the periodic task back",
    )
    [ran] = wait_for(lambda: runs_of(one_off), timeout=5 + 3, what="the one-off task")
    # Not before its due time, and at most 5 s (x factor) after it, though Redis was wiped.
    assert one_off.scheduling <= ran < one_off.scheduling + timedelta(seconds=patience(5))


def test_a_never_firing_cron_beside_a_task_every_two_seconds(processes, make_task):
    backend = RQBackend()
    good = every_two_seconds(make_task)
    operations.schedule(good, backend, defer=False)
    bad = make_task(name="never", cron_expression="* * * * *")
    operations.schedule(bad, backend, defer=False)
    # Saved before such expressions were refused; it comes due within the minute.
    Task.objects.filter(pk=bad.pk).update(cron_expression=NEVER)
    bad.refresh_from_db()

    synced = manage("taskmanager", "sync")
    assert synced.returncode == 0, synced.stderr
    assert f"task {bad.pk} not scheduled" in synced.stdout

    backend.set_due_time(bad.scheduled_job_id, timezone.now())  # due now, as the good one
    good.refresh_from_db()
    scheduler = processes.start("taskmanager", "-v", "2", *SCHEDULER[1:])
    processes.start(*TASK_WORKER)
    wait_for(lambda: len(runs_of(good)) >= 5, what="five runs of the good task")
    # The good task keeps its rhythm: the scheduler sends each of its firings due 2 s after the
    # one before (the first one waited for the scheduler to start: firings missed meanwhile
    # collapse into it), and no run starts before its firing's due time. Its own due times, not
    # the runs' start times: a loaded machine delays a run, never its schedule.
    dues = enqueued_firings(processes.output(scheduler), good.scheduled_job_id)
    gaps = [round(b - a, 3) for a, b in zip(dues[1:], dues[2:], strict=False)]
    assert len(gaps) >= 3 and all(gap == 2 for gap in gaps), dues
    starts = runs_of(good)
    assert all(start.timestamp() >= due for start, due in zip(starts, dues, strict=False)), (
        starts,
        dues,
    )
    assert scheduler.poll() is None
    assert Task.objects.get(pk=bad.pk).schedule_error
    assert not LaunchReport.objects.filter(task=bad).exists()


pytestmark = pytest.mark.integration
