"""The run lifecycle: ``run_management_command(task_id)`` is what a worker executes."""

from __future__ import annotations

import logging
import time
import traceback

from django.core.management import call_command
from django.utils import timezone

from eztaskmanager.services.logger import (
    DatabaseLogHandler,
    LogWriter,
    _current_handler,
    run_logger,
)

logger = logging.getLogger(__name__)


def _current_job_id() -> str:
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency
        return ""
    job = get_current_job()
    return job.id if job is not None else ""


def run_management_command(task_id: int, scheduled: bool = False):
    """Run the task's command and record the run in a LaunchReport; return the report.

    Every exception of the command is caught: the report ends ``failed`` with the traceback in
    its log. A task id that no longer exists is logged and ignored (returns None).
    """
    from eztaskmanager.models import LaunchReport, Task
    from eztaskmanager.services.notifications import emit_notifications

    task = Task.objects.select_related("command").filter(pk=task_id).first()
    if task is None:
        logger.warning("Task %s does not exist any more; nothing to run.", task_id)
        return None

    started = timezone.now()
    clock = time.monotonic()
    report = LaunchReport.objects.create(task=task, started_at=started, rq_job_id=_current_job_id())
    Task.objects.filter(pk=task.pk).update(status=Task.STATUS_STARTED)

    handler = DatabaseLogHandler(report.pk)
    run_log = run_logger(f"task{task.pk}")
    run_log.handlers = [handler]
    run_log.setLevel(logging.DEBUG)
    token = _current_handler.set(handler)
    result = None
    stdout, stderr = LogWriter(run_log, logging.INFO), LogWriter(run_log, logging.ERROR)
    try:
        try:
            call_command(task.command.name, *task.complete_args, stdout=stdout, stderr=stderr)
        finally:
            stdout.flush()
            stderr.flush()
    except BaseException as exc:  # noqa: BLE001 - a run must never take the worker down with it
        result = LaunchReport.RESULT_FAILED
        report.failure_reason = _failure_reason(exc)
        run_log.error("Run failed: %s\n%s", report.failure_reason, traceback.format_exc().rstrip())
        if not isinstance(exc, Exception) and not isinstance(exc, SystemExit):
            # KeyboardInterrupt and the like: record the failure, then let it go on.
            _finish(task, report, handler, token, result, clock, scheduled)
            raise
    _finish(task, report, handler, token, result, clock, scheduled)
    emit_notifications(report)
    return report


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"the command exited with status {exc.code}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _finish(task, report, handler, token, result, clock, scheduled) -> None:
    """Flush the log, store the outcome, refresh the task and prune its old reports."""
    from eztaskmanager.models import Task
    from eztaskmanager.services.queues import TaskQueueException, get_task_service

    _current_handler.reset(token)
    try:
        handler.close()
    finally:
        report.n_lines, report.n_errors, report.n_warnings = (
            handler.n_lines,
            handler.n_errors,
            handler.n_warnings,
        )
        report.invocation_result = result or report.derive_result()
        report.finished_at = timezone.now()
        report.duration = round(time.monotonic() - clock, 6)
        report.save(
            update_fields=[
                "invocation_result",
                "finished_at",
                "duration",
                "failure_reason",
                "n_lines",
                "n_errors",
                "n_warnings",
            ]
        )
        task.apply_report_cache(report)
        try:
            get_task_service().after_run(task, scheduled)
        except TaskQueueException as exc:
            logger.warning("Task %s: schedule state not refreshed: %s", task.pk, exc)
            task.status = Task.STATUS_SCHEDULED if task.scheduled_job_id else Task.STATUS_IDLE
        Task.objects.filter(pk=task.pk).update(
            status=task.status,
            scheduled_job_id=task.scheduled_job_id,
            cached_next_ride=task.cached_next_ride,
            **task.cache_values(),
        )
        task.prune_reports()


__all__ = ["run_management_command"]
