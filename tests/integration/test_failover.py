"""Redis failover under a periodic schedule: a master, a replica and a sentinel, real processes.

The scheduler and a ``TaskWorker`` reach Redis through django-rq's Sentinel configuration. The
master is killed (SIGKILL) while a task runs every second; the sentinel promotes the replica and
the schedule must go on with every firing that was enqueued run to a result.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from redis.sentinel import Sentinel

from eztaskmanager.models import LaunchReport
from tests.conftest import rq_service_on, unavailable
from tests.integration.conftest import (
    enqueued_firings,
    in_both_worker_modes,
    rqworker,
    stop_firings,
    wait_for,
    wait_process,
)
from tests.integration.sentinel import MASTER_NAME, SentinelCluster, missing_binaries

PERIOD = 1  # seconds between firings


@pytest.fixture
def cluster(tmp_path):
    missing = missing_binaries()
    if missing:  # skipped with the reason; a failure under EZTM_REQUIRE_ALL=1, as in CI
        unavailable(
            f"needs {' and '.join(missing)}: as root, `make test` installs them; otherwise "
            "apt-get install redis-server redis-sentinel"
        )
    redis_cluster = SentinelCluster(tmp_path / "redis")
    try:
        redis_cluster.start()
        yield redis_cluster
    finally:
        redis_cluster.stop()
        print(redis_cluster.logs())


class Restarted:
    """Restart a process when it exits, as systemd's ``Restart=always`` (``RestartSec=1``) does."""

    def __init__(self, processes, *args: str):
        self.processes = processes
        self.args = args
        self.process = processes.start(*args)
        self.restarts = 0
        self._exited_at: float | None = None

    def check(self) -> None:
        if self.process.poll() is None:
            return
        if self._exited_at is None:
            self._exited_at = time.monotonic()
        if time.monotonic() - self._exited_at >= 1:
            self.process = self.processes.start(*self.args)
            self.restarts += 1
            self._exited_at = None


def reports(task):
    """The runs of ``task`` (its launches a worker started)."""
    return list(
        LaunchReport.objects.filter(task=task, started_at__isnull=False).order_by("started_at")
    )


@in_both_worker_modes
def test_periodic_schedule_goes_on_after_master_failover(
    processes, cluster, make_task, monkeypatch, worker_class
):
    for name, value in cluster.env().items():
        monkeypatch.setenv(name, value)  # read by the subprocesses' settings
    # Every run is counted against the firings: none of its reports may be pruned (a loaded
    # machine fires more than the ten a task keeps by default before the schedule is dropped).
    monkeypatch.setenv("EZTM_N_REPORTS_INLINE", "1000")
    connection = Sentinel(cluster.sentinels, socket_timeout=2).master_for(MASTER_NAME)
    task = make_task(
        "eztm_lines",
        "1",
        name="every second",
        scheduling=timezone.now() + timedelta(seconds=3),
        repetition_period="second",
        repetition_rate=PERIOD,
    )
    rq_service_on(connection).add(task)
    task.refresh_from_db()
    scheduler = processes.start("taskmanager", "-v", "2", "scheduler", "--interval", "0.1")
    # RQ's worker loop quits on a Redis error met outside its dequeue call: a supervisor
    # restarts it, as the deployment recipes do.
    worker = Restarted(processes, *rqworker(worker_class))

    wait_for(lambda: len(reports(task)) >= 5, what="5 runs before the kill")
    killed_at = timezone.now()
    cluster.kill_master()
    cluster.wait_for_failover()
    promoted_at = timezone.now()

    def runs_after_failover():
        worker.check()
        return sum(r.started_at > promoted_at for r in reports(task)) >= 5

    wait_for(runs_after_failover, what="5 runs after the failover")
    assert scheduler.poll() is None, processes.output(scheduler)  # it rode the failover out
    job_id = task.scheduled_job_id
    # No more firings; the scheduler goes on sweeping: a launch whose job the old master took
    # with it (replication is asynchronous) is sent again from its queued report.
    stop_firings(task, connection, job_id, check=worker.check)

    def every_launch_ended():
        worker.check()
        return not LaunchReport.objects.filter(task=task, invocation_result="").exists()

    wait_for(every_launch_ended, what="a result for every launch")
    os.killpg(scheduler.pid, signal.SIGTERM)
    wait_process(scheduler)
    enqueued = enqueued_firings(processes.output(scheduler), job_id)
    processes.stop_all()

    runs = reports(task)
    after_kill = [r for r in runs if r.started_at > killed_at]
    # Firings due while no master answered collapse into one (the scheduler's rule for missed
    # firings): count them apart from launches lost.
    collapsed = sum(
        round((b - a) / PERIOD) - 1 for a, b in zip(enqueued, enqueued[1:], strict=False)
    )
    next_run = (after_kill[0].started_at - killed_at).total_seconds()
    print(
        f"failover: replica promoted {(promoted_at - killed_at).total_seconds():.1f} s after "
        f"the master was killed; next run {next_run:.1f} s after the kill; "
        f"{len(enqueued)} firings enqueued, {len(runs)} runs, "
        f"{max(len(enqueued) - len(runs), 0)} lost, {collapsed} firings due during the outage "
        f"collapsed, worker restarts {worker.restarts}"
    )
    every_launch = [
        (r.pk, r.invocation_result, r.ending, r.started_at, r.failure_reason, r.attempt)
        for r in LaunchReport.objects.filter(task=task).order_by("pk")
    ]
    assert len(runs) >= len(enqueued) >= 10, (len(runs), enqueued, every_launch)
    assert len(after_kill) >= 5
    results = [(r.invocation_result, r.failure_reason) for r in runs]
    assert all(result == LaunchReport.RESULT_OK for result, _ in results), results
