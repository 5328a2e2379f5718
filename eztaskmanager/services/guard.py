"""Runs that never get stuck: heartbeats, the per-task run lock, and closing dead runs.

While a run goes on, a ``Heartbeat`` thread stamps the report's ``heartbeat_at`` and renews the
task's run lock. A run whose process vanished (killed, out of memory, machine lost) stops
beating; ``reap_orphans`` finds it and closes it as failed ("worker died"). Worker-side events
(a stop request, a cold shutdown) close the run at once through ``close_run``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.db import connections, transaction
from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.services.notifications import emit_notifications

logger = logging.getLogger(__name__)

REASON_WORKER_DIED = "worker died"
REASON_INTERRUPTED = "interrupted"
REASON_SKIPPED = "skipped: already running"


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


class Heartbeat:
    """A thread that keeps a run visibly alive until ``stop()``."""

    def __init__(self, report_id: int, renew=None, interval: float | None = None):
        self.report_id = report_id
        self.renew = renew
        self.interval = interval or conf.get("HEARTBEAT_SECONDS")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="eztaskmanager-heartbeat", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        from eztaskmanager.models import LaunchReport

        try:
            while not self._stop.wait(self.interval):
                try:
                    LaunchReport.objects.filter(pk=self.report_id).update(
                        heartbeat_at=timezone.now()
                    )
                    if self.renew is not None:
                        self.renew()
                except Exception:  # a missed beat is not a reason to end the run
                    logger.exception("Heartbeat of report %s failed", self.report_id)
        finally:
            connections.close_all()


def close_run(report, reason: str, retry: bool = True) -> bool:
    """Close a run that ended outside its own process: failed, with ``reason``.

    Returns False when the run had already ended (nothing done). The task goes back to its
    schedule state, its lock is released, notifications go out, and a retry is planned when
    attempts are left and ``retry`` is true.
    """
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services import finish_task, plan_retry

    now = timezone.now()
    with transaction.atomic():
        # The conditional update is the claim: of two closers, one closes the run.
        closed = LaunchReport.objects.filter(pk=report.pk, invocation_result="").update(
            invocation_result=LaunchReport.RESULT_FAILED,
            failure_reason=reason,
            finished_at=now,
        )
        if not closed:
            return False
        report.refresh_from_db()
        if report.started_at:
            report.duration = (now - report.started_at).total_seconds()
            report.save(update_fields=["duration"])
        report.append_line("ERROR", f"Run ended: {reason}.")
        finish_task(report.task, report, release_lock=True)
    emit_notifications(report)
    if retry:
        plan_retry(report.task, report)
    return True


def reap_orphans(now=None) -> list[int]:
    """Close every unfinished run whose heartbeat is too old; return their report ids."""
    from eztaskmanager.models import LaunchReport

    now = now or timezone.now()
    limit = now - timedelta(seconds=conf.get("ORPHAN_AFTER_SECONDS"))
    stale = LaunchReport.objects.select_related("task", "task__command").filter(
        invocation_result="", heartbeat_at__lt=limit
    )
    closed = []
    for report in stale:
        reason = (
            f"stopped by {report.stop_requested_by}"
            if report.stop_requested_by
            else REASON_WORKER_DIED
        )
        if close_run(report, reason, retry=not report.stop_requested_by):
            logger.warning("Report %s closed: %s", report.pk, reason)
            closed.append(report.pk)
    return closed


def job_stopped(job, connection, *args, **kwargs) -> None:
    """RQ ``on_stopped`` callback, run by the worker once it killed a stopped job's horse."""
    from eztaskmanager.models import LaunchReport

    try:
        for report in LaunchReport.objects.select_related("task").filter(
            rq_job_id=job.id, invocation_result=""
        ):
            close_run(report, f"stopped by {report.stop_requested_by or 'request'}", retry=False)
    finally:
        connections.close_all()  # the worker forks horses: leave it no open connection
