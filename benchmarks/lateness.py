"""Scheduling lateness of point runs with ``taskmanager scheduler`` (default options: it waits
for the next due time instead of polling)."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from benchmarks.common import Processes, Row, clear_queue, make_task, median, wait_for

LEAD_SECONDS = 3.0  # first run this far ahead of scheduling it
SPACING_SECONDS = 0.5


def run(sizes, say) -> tuple[list[Row], dict]:
    import django_rq
    from rq import Worker

    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services.queues import RQTaskQueueService

    clear_queue()
    queue = django_rq.get_queue("default")
    service = RQTaskQueueService()
    with Processes() as processes:
        worker = processes.start("rqworker", "default")
        scheduler = processes.start("taskmanager", "scheduler")
        wait_for(lambda: Worker.count(connection=queue.connection) > 0, 60, what="the worker")
        # The scheduler syncs Redis with the Task table when it starts: schedule after that.
        wait_for(
            lambda: "birth" in processes.output(scheduler).lower() or scheduler.poll() is not None,
            60,
            what="the scheduler",
        )
        if scheduler.poll() is not None:
            raise RuntimeError(f"the scheduler stopped:\n{processes.output(scheduler)[-3000:]}")
        time.sleep(1.0)  # its first pass (with the sync) comes right after the birth

        first = timezone.now() + timedelta(seconds=LEAD_SECONDS)
        tasks = []
        for i in range(sizes.point_runs):
            when = first + timedelta(seconds=i * SPACING_SECONDS)
            task = make_task("bench_noop", name=f"point run {i}", scheduling=when)
            service.schedule(task)
            tasks.append(task)

        def all_started():
            return LaunchReport.objects.filter(
                task__in=tasks, started_at__isnull=False
            ).count() == len(tasks)

        timeout = LEAD_SECONDS + SPACING_SECONDS * len(tasks) + 60
        try:
            wait_for(all_started, timeout, what="the point runs")
        except RuntimeError:
            raise RuntimeError(
                "point runs did not start; worker:\n"
                + processes.output(worker)[-2000:]
                + "\nscheduler:\n"
                + processes.output(scheduler)[-2000:]
            ) from None

    from rq.job import Job

    late, fired = [], []
    for task in tasks:
        report = LaunchReport.objects.filter(task=task).order_by("id").first()
        late.append((report.started_at - task.scheduling).total_seconds())
        # When the scheduler put the firing on the queue: its own part of the lateness.
        enqueued = Job.fetch(report.rq_job_id, connection=queue.connection).enqueued_at
        fired.append((enqueued - task.scheduling).total_seconds())
    say("  lateness: " + ", ".join(f"{s:.3f}" for s in late))
    say("  enqueued: " + ", ".join(f"{s:.3f}" for s in fired))
    rows = [
        Row("scheduling", f"point-run lateness, min of {len(late)}", min(late), "s"),
        Row("scheduling", f"point-run lateness, median of {len(late)}", median(late), "s"),
        Row(
            "scheduling",
            f"point-run lateness, max of {len(late)}",
            max(late),
            "s",
            target="< 0.1 s",
            passed=max(late) < 0.1,
        ),
        Row(
            "scheduling",
            f"firing lateness (on the queue), max of {len(fired)}",
            max(fired),
            "s",
            target="< 0.1 s",
            passed=max(fired) < 0.1,
        ),
    ]
    return rows, {"lateness_seconds": late, "enqueued_late_seconds": fired}
