"""The run lifecycle: ``run_management_command(task_id)`` is what a worker executes."""

from __future__ import annotations

import logging
import time
import traceback

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from eztaskmanager import policy
from eztaskmanager.services.logger import (
    DatabaseLogHandler,
    LogWriter,
    _current_handler,
    run_logger,
)
from eztaskmanager.services.refusal import refuse_run

logger = logging.getLogger(__name__)


def _current_job():
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency
        return None
    return get_current_job()


def run_management_command(task_id: int, scheduled: bool = False, attempt: int = 1):
    """Run the task's command and record the run in a LaunchReport; return the report.

    Every exception of the command is caught: the report ends ``failed`` with the traceback in
    its log. A task id that no longer exists is logged and ignored (returns None). Unless the
    task allows overlapping runs, a launch while another run of the task is going is skipped,
    leaving a report that says so.
    """
    from eztaskmanager.models import LaunchReport, Task
    from eztaskmanager.services.guard import Heartbeat, worker_label
    from eztaskmanager.services.notifications import emit_notifications
    from eztaskmanager.services.queues import get_task_service

    task = Task.objects.select_related("command").filter(pk=task_id).first()
    if task is None:
        logger.warning("Task %s does not exist any more; nothing to run.", task_id)
        return None
    refused = policy.refusal(task.command)
    if refused:  # whatever the database says, only what the policy allows runs
        return refuse_run(task, refused, job=_current_job(), attempt=attempt, scheduled=scheduled)

    started = timezone.now()
    clock = time.monotonic()
    job = _current_job()
    with transaction.atomic():  # one commit for both
        report = LaunchReport.objects.create(
            task=task,
            started_at=started,
            heartbeat_at=started,
            rq_job_id=job.id if job is not None else "",
            worker=worker_label(),
            attempt=attempt,
            max_attempts=task.max_retries + 1,
        )
        # Started either way: by this run, or by the one that makes this launch a skip.
        Task.objects.filter(pk=task.pk).update(status=Task.STATUS_STARTED)
    service = get_task_service()
    token = str(report.pk)
    if not task.allow_overlap and not service.acquire_run_lock(task, token):
        return _skip(report)

    heartbeat = Heartbeat(report.pk, renew=lambda: service.renew_run_lock(task, token)).start()
    handler = DatabaseLogHandler(report.pk)
    run_log = run_logger(f"task{task.pk}")
    run_log.handlers = [handler]
    run_log.setLevel(logging.DEBUG)
    context = _current_handler.set(handler)
    if report.max_attempts > 1:
        run_log.info("Attempt %s of %s", attempt, report.max_attempts)
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
        report.failure_reason = _failure_reason(exc, job)
        run_log.error("Run failed: %s\n%s", report.failure_reason, traceback.format_exc().rstrip())
        if not isinstance(exc, Exception | SystemExit):
            # KeyboardInterrupt and the like: record the failure, then let it go on.
            _finish(task, report, handler, context, heartbeat, result, clock, scheduled, service)
            raise
    _finish(task, report, handler, context, heartbeat, result, clock, scheduled, service)
    emit_notifications(report)
    plan_retry(task, report, service)
    return report


def _failure_reason(exc: BaseException, job) -> str:
    from rq.timeouts import JobTimeoutException

    if isinstance(exc, JobTimeoutException):
        seconds = getattr(job, "timeout", None)
        return f"timeout after {seconds} s" if seconds else "timeout"
    if isinstance(exc, SystemExit):
        return f"the command exited with status {exc.code}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _skip(report):
    """Close ``report`` as a launch skipped because another run of the task is going."""
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services.guard import REASON_SKIPPED

    report.append_line("WARNING", f"Not run: {REASON_SKIPPED}.", count_level=True)
    report.invocation_result = LaunchReport.RESULT_WARNINGS
    report.failure_reason = REASON_SKIPPED
    report.finished_at = timezone.now()
    report.duration = 0.0
    report.save(update_fields=["invocation_result", "failure_reason", "finished_at", "duration"])
    logger.info("Task %s: launch skipped, already running", report.task_id)
    return report


def _finish(task, report, handler, context, heartbeat, result, clock, scheduled, service):
    """Flush the log, then store the outcome and bring the task up to date, together."""
    _current_handler.reset(context)
    heartbeat.stop()
    try:
        handler.close()
    finally:
        report.n_lines, report.n_errors, report.n_warnings, report.n_dropped = (
            handler.n_lines,
            handler.n_errors,
            handler.n_warnings,
            handler.n_dropped,
        )
        report.invocation_result = result or report.derive_result()
        report.finished_at = timezone.now()
        report.duration = round(time.monotonic() - clock, 6)
        with transaction.atomic():
            report.save(
                update_fields=[
                    "invocation_result",
                    "finished_at",
                    "duration",
                    "failure_reason",
                    "n_lines",
                    "n_errors",
                    "n_warnings",
                    "n_dropped",
                ]
            )
            finish_task(task, report, release_lock=True, scheduled=scheduled, service=service)


def finish_task(task, report, release_lock: bool, scheduled: bool = False, service=None):
    """After a run ended: release the lock, refresh the task, prune old reports.

    Callers run it in the transaction that stores the report's outcome, so the report and its
    task change together. ``service`` is the run's own queue service, if it has one: each new
    service opens a new Redis connection.
    """
    from eztaskmanager.models import Task
    from eztaskmanager.services.queues import TaskQueueException, get_task_service

    service = service or get_task_service()
    if release_lock and not task.allow_overlap:
        service.release_run_lock(task, str(report.pk))
    task.apply_report_cache(report)
    try:
        service.after_run(task, scheduled)
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


def plan_retry(task, report, service=None) -> None:
    """Plan the next attempt of a failed run, when the task has attempts left."""
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services.queues import TaskQueueException, get_task_service

    if report.invocation_result != LaunchReport.RESULT_FAILED:
        return
    if report.attempt >= report.max_attempts:
        return
    attempt = report.attempt + 1
    delay = task.retry_delay(report.attempt)
    try:
        (service or get_task_service()).retry(task, attempt=attempt, delay=delay)
    except TaskQueueException as exc:
        report.append_line("ERROR", f"Retry {attempt} of {report.max_attempts} not planned: {exc}")
        return
    report.append_line("INFO", f"Attempt {attempt} of {report.max_attempts} planned in {delay} s.")


__all__ = ["finish_task", "plan_retry", "run_management_command"]
