"""Runs that never get stuck: closing the runs whose process died or was stopped.

A running run stamps its report's ``heartbeat_at`` (see ``runs.Heartbeat``). A run whose process
vanished (killed, out of memory, machine lost) stops beating; ``reap_orphans`` finds it and
closes it as failed ("worker died"). Worker-side events (a stop request, a cold shutdown) close
the run at once: ``job_stopped`` is the RQ callback named in every job of ours.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.models import LaunchReport
from eztaskmanager.runs import REASON_WORKER_DIED, close_run

logger = logging.getLogger(__name__)


def reap_orphans(now=None) -> list[int]:
    """Close every unfinished run whose heartbeat is too old; return their report ids."""
    now = now or timezone.now()
    limit = now - timedelta(seconds=conf.get("ORPHAN_AFTER_SECONDS"))
    stale = LaunchReport.objects.select_related("task", "task__command").filter(
        invocation_result="", heartbeat_at__lt=limit
    )
    closed = []
    for report in stale:
        by = report.stop_requested_by
        reason = f"stopped by {by}" if by else REASON_WORKER_DIED
        if close_run(report, reason, retry=not by):
            logger.warning("Report %s closed: %s", report.pk, reason)
            closed.append(report.pk)
    return closed


def close_runs_of_job(job_id: str | None, reason: str, retry: bool) -> None:
    """Close the unfinished reports of job ``job_id`` with ``reason``."""
    if not job_id:
        return
    try:
        for report in LaunchReport.objects.select_related("task").filter(
            rq_job_id=job_id, invocation_result=""
        ):
            close_run(report, reason.format(by=report.stop_requested_by or "request"), retry)
    except Exception:
        logger.exception("Could not close the run of job %s", job_id)
    finally:
        connections.close_all()  # the worker forks horses: leave it no open connection


def job_stopped(job, connection, *args, **kwargs) -> None:
    """RQ ``on_stopped`` callback, run by the worker once it killed a stopped job's horse."""
    close_runs_of_job(job.id, "stopped by {by}", retry=False)
