"""Queues with real workers: priorities the RQ way, and a quick queue beside a busy one.

Figures are printed (``-s``); the assertions have generous bounds, the docs give the figures.
"""

import time

from django.db.models import Min
from rq import Worker

from eztaskmanager import operations
from eztaskmanager.backends import get_backend
from eztaskmanager.models import LaunchReport
from tests.integration.conftest import (
    in_both_worker_modes,
    patience,
    rqworker,
    wait_for,
    wait_process,
)


@in_both_worker_modes
def test_a_worker_takes_high_before_low(make_task, processes, worker_class):
    low = [make_task("eztm_echo", name=f"low {i}", queue="low") for i in range(20)]
    high = make_task("eztm_echo", name="high", queue="high")
    backend = get_backend()
    for task in low:
        operations.launch(task, backend)
    operations.launch(high, backend)  # launched last, behind twenty queued low runs

    worker = processes.start(*rqworker(worker_class, "high", "default", "low"), "--burst")
    assert wait_process(worker) == 0, processes.output(worker)
    assert LaunchReport.objects.exclude(invocation_result="").count() == 21  # all ran
    first_low = LaunchReport.objects.filter(task__queue="low").aggregate(t=Min("started_at"))["t"]
    high_started = LaunchReport.objects.get(task=high).started_at
    print(f"\nhigh started {(first_low - high_started).total_seconds():.3f} s before any low run")
    assert high_started < first_low


@in_both_worker_modes
def test_a_quick_queue_is_not_held_up_by_a_busy_one(make_task, processes, worker_class):
    # Busy for 8 s (x factor): the quick run must start while the slow one still runs.
    slow = make_task("eztm_sleep", f"{patience(8):g}", name="slow", queue="default")
    quick = make_task("eztm_echo", name="quick", queue="quick")
    processes.start(*rqworker(worker_class, "default"))
    processes.start(*rqworker(worker_class, "quick"))
    backend = get_backend()
    # Both workers up first: a worker still starting is no queue held up.
    wait_for(lambda: len(Worker.all(connection=backend.connection)) == 2, what="both workers up")
    operations.launch(slow, backend)
    wait_for(
        lambda: LaunchReport.objects.filter(task=slow, started_at__isnull=False).exists(),
        what="the slow run to start",
    )
    launched = time.time()
    operations.launch(quick, backend)
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=quick, started_at__isnull=False).first(),
        what="the quick run to start",
    )
    delay = report.started_at.timestamp() - launched
    print(f"\nquick run started {delay:.3f} s after its launch, the default queue busy")
    # Not held up: the quick run started while the slow one still ran (an ordering, not a
    # delay: a loaded machine slows both workers alike).
    slow_run = LaunchReport.objects.get(task=slow)
    assert slow_run.finished_at is None or report.started_at < slow_run.finished_at, delay
