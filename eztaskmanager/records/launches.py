"""Durable launches: a launch has its report in the database before its job reaches Redis.

A launch (from staff, the command line, the scheduler's firing or a planned retry) creates a
``LaunchReport`` with no start time: *queued*. It records what the launch runs (command,
arguments and their rule): what the task said when it was launched, not when a worker takes
it. Its job carries the report's id (``report_id``); the work horse that runs the job *claims*
the report with one conditional update (queued -> started), so a job sent twice runs once. A
queued report whose job is found nowhere in Redis is sent again by the scheduler's sweep
(``scheduler/sweep.py``); a job lost between a worker's dequeue and its work horse's start
therefore costs a delay, never the launch.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from django.utils import timezone

from eztaskmanager.backends import Job
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.records import taskstate

logger = logging.getLogger(__name__)


def prepare(
    task: Task,
    job_id: str,
    attempt: int = 1,
    retry_of: LaunchReport | None = None,
    **kwargs,
) -> tuple[Job, LaunchReport]:
    """Record a launch of ``task`` as queued; return its job (carrying the report id) and report.

    ``kwargs`` go to the run (``arguments`` of a one-off run, the report it was
    ``triggered_by``); the queued report records them too, with what the launch runs: the
    task's command and arguments as they are now (or the one-off arguments), or, for a retry,
    what the report it retries (``retry_of``) was launched with. The run executes those.
    ``call_id`` (a call through Django's task API: its result id), ``queue`` (the call's
    queue, instead of the task's) and ``run_after`` (the earliest it may run) go to the report
    only.
    """
    call_id, queue = kwargs.pop("call_id", ""), kwargs.pop("queue", "")
    run_after = kwargs.pop("run_after", None)
    report = LaunchReport(
        task=task,
        rq_job_id=job_id,
        attempt=attempt,
        max_attempts=task.max_retries + 1,
        arguments=kwargs.get("arguments"),
        triggered_by_id=kwargs.get("triggered_by"),
        call_id=call_id,
        run_after=run_after,
    )
    if retry_of is not None and retry_of.is_recorded:
        report.copy_launch(retry_of)
        report.max_attempts = retry_of.max_attempts
    else:
        report.record_launch(task, kwargs.get("arguments"))
        report.queue = queue or report.queue
    report.save(force_insert=True)
    if attempt > 1:
        kwargs["attempt"] = attempt
    return on_its_queue(
        taskstate.job_for(task, job_id, report_id=report.pk, **kwargs), report
    ), report


def on_its_queue(job: Job, report: LaunchReport) -> Job:
    """``job`` on the queue ``report``'s launch recorded (the task's, before 0015)."""
    if not report.is_recorded:
        return job
    return replace(job, queue=report.queue or None)


def job_of(report: LaunchReport) -> Job:
    """The job that runs queued ``report`` (to send it again under its own job id)."""
    kwargs = {"report_id": report.pk}
    if report.arguments is not None:
        kwargs["arguments"] = report.arguments
    if report.triggered_by_id is not None:
        kwargs["triggered_by"] = report.triggered_by_id
    if report.attempt > 1:
        kwargs["attempt"] = report.attempt
    return on_its_queue(taskstate.job_for(report.task, report.rq_job_id, **kwargs), report)


def withdraw(report: LaunchReport) -> None:
    """Forget a launch that never reached the queue (the caller is told it failed)."""
    LaunchReport.objects.filter(
        pk=report.pk, started_at__isnull=True, invocation_result=""
    ).delete()


def claim(
    report_id: int,
    job_id: str,
    worker: str,
    now: datetime | None = None,
    read: LaunchReport | None = None,
):
    """Mark queued report ``report_id`` started by this process; None if it is not queued.

    The conditional update is the claim: of two processes running the same launch (a job sent
    again by the sweep while the first copy was only late), one runs it; a launch stopped while
    it waited stays closed. ``read``: the queued report as the caller read it just before; the
    claim then writes the same values on it instead of reading the row again (a queued report
    changes only by being claimed or closed, and either makes this claim fail).
    """
    now = now or timezone.now()
    values = {"started_at": now, "heartbeat_at": now, "worker": worker}
    if job_id:
        values["rq_job_id"] = job_id
    claimed = LaunchReport.objects.filter(
        pk=report_id, started_at__isnull=True, invocation_result=""
    ).update(**values)
    if not claimed:
        logger.info("Launch %s was already started or closed; not run again.", report_id)
        return None
    if read is None or read.pk != report_id:
        return LaunchReport.objects.get(pk=report_id)
    for name, value in values.items():
        setattr(read, name, value)
    return read
