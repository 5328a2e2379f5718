"""Calls of ``@task`` functions as Django's ``TaskResult``: read from their launch reports.

A call through Django's task API (``Task.enqueue``) is a launch like any other: a report,
queued then claimed by a worker, ended by ``runs.ending``. Its reports carry the call's id
(``LaunchReport.call_id``, the ``TaskResult`` id); a retry is a new report with the same id, so
the reports of one call, in attempt order, are its history. This module reads a ``TaskResult``
back from them; nothing else is stored for it.

Status: the last attempt not started yet is READY (a retry waiting included), started and not
ended RUNNING, ended SUCCESSFUL when the function returned (whatever it logged), FAILED when it
raised or never ran to its end (stopped, timed out, its worker died, refused by the policy,
skipped because another run of the task was going). A failed attempt leaves a ``TaskError``:
the exception it raised, or for a run ended from outside one of the classes below, with the
reason as its text.
"""

from __future__ import annotations

import json

from eztaskmanager.core import functions
from eztaskmanager.internals import djangotasks
from eztaskmanager.models import LaunchReport


class RunStopped(Exception):
    """A call's run was stopped (from the admin, the command line or a stop request)."""


class WorkerDied(Exception):
    """A call's run ended with its worker or work horse (killed, crashed, interrupted)."""


class RunRefused(Exception):
    """A call was not run: the command policy refused its function."""


class RunSkipped(Exception):
    """A call was not run: another run of its task was going (overlapping runs not allowed)."""


def path_of(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# The exception of an attempt that raised none, by how its run ended.
ENDING_ERRORS = {
    LaunchReport.ENDING_STOPPED: path_of(RunStopped),
    LaunchReport.ENDING_WORKER_DIED: path_of(WorkerDied),
    LaunchReport.ENDING_INTERRUPTED: path_of(WorkerDied),
    LaunchReport.ENDING_REFUSED: path_of(RunRefused),
    LaunchReport.ENDING_SKIPPED: path_of(RunSkipped),
}


def succeeded(report: LaunchReport) -> bool:
    return (
        report.ending == LaunchReport.ENDING_FINISHED
        and report.invocation_result != LaunchReport.RESULT_FAILED
    )


def status_of(report: LaunchReport):
    """The ``TaskResultStatus`` of a call whose latest attempt is ``report``."""
    status = djangotasks.TaskResultStatus
    if report.started_at is None and not report.is_finished:
        return status.READY
    if not report.is_finished:
        return status.RUNNING
    return status.SUCCESSFUL if succeeded(report) else status.FAILED


def error_of(report: LaunchReport):
    """The ``TaskError`` a failed attempt leaves."""
    if report.exception_class:
        return djangotasks.TaskError(
            exception_class_path=report.exception_class, traceback=report.exception_traceback
        )
    path = ENDING_ERRORS.get(report.ending, "builtins.Exception")
    return djangotasks.TaskError(exception_class_path=path, traceback=report.failure_reason)


def reports_of(call_id: str) -> list[LaunchReport]:
    """The reports of call ``call_id``, first attempt first."""
    if not call_id:
        return []
    return list(LaunchReport.objects.filter(call_id=call_id).order_by("attempt", "pk"))


def result_from(reports: list[LaunchReport], alias: str, task=None):
    """The ``TaskResult`` of the call whose reports are ``reports`` (first attempt first), on
    the backend named ``alias``; ``task`` is the call's ``Task`` when the caller has it."""
    first, latest = reports[0], reports[-1]
    if task is None:
        try:
            task = functions.load(first.command_name)
        except functions.NotATaskFunction as exc:
            message = f"Result {first.call_id!r}: {exc}"
            raise djangotasks.TaskResultDoesNotExist(message) from exc
    args, kwargs = functions.parse(first.run_arguments)
    started = [report for report in reports if report.started_at is not None]
    status = status_of(latest)
    result = djangotasks.TaskResult(
        task=task,
        id=first.call_id,
        status=status,
        # A launch run in the calling process is recorded as it starts: never after it.
        enqueued_at=min(first.invocation_datetime, first.started_at or first.invocation_datetime),
        started_at=started[0].started_at if started else None,
        finished_at=latest.finished_at if latest.is_finished else None,
        last_attempted_at=started[-1].started_at if started else None,
        args=args,
        kwargs=kwargs,
        backend=alias,
        errors=[
            error_of(report) for report in reports if report.is_finished and not succeeded(report)
        ],
        worker_ids=[report.worker or str(report.pk) for report in started],
    )
    if status == djangotasks.TaskResultStatus.SUCCESSFUL:
        value = None if latest.return_value is None else json.loads(latest.return_value)
        object.__setattr__(result, "_return_value", value)
    return result


def result_of(call_id: str, alias: str, task=None):
    """The ``TaskResult`` of call ``call_id``; ``TaskResultDoesNotExist`` when there is none
    (never launched, or its reports pruned)."""
    reports = reports_of(call_id)
    if not reports:
        raise djangotasks.TaskResultDoesNotExist(f"No task result {call_id!r}.")
    return result_from(reports, alias, task)
