"""Operations: what staff, the command line, tasks-as-code and the scheduler can do to a task.

``launch``, ``stop``, ``apply_schedule`` and ``unschedule`` each return an ``Outcome``. Task state
changes go through ``taskstate`` (its one writer); the backend is told after the database commit
when the caller is inside a transaction (a rolled-back save leaves nothing in Redis), at once
otherwise. Admin, CLI, tasks-as-code and the legacy queue-service facade call these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from eztaskmanager import launches, taskstate
from eztaskmanager.backends import Backend, BackendError, cannot_schedule, get_backend
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.runs import close_run

logger = logging.getLogger(__name__)

QUEUED = "queued"
RAN = "ran"
SCHEDULED = "scheduled"
UNSCHEDULED = "unscheduled"
STOPPED = "stopped"
UNCHANGED = "unchanged"


@dataclass
class Outcome:
    """What an operation did to one task."""

    task: Task
    state: str
    job_id: str = ""
    report: LaunchReport | None = None  # the run's report, when it ran in this process
    when: datetime | None = None  # the next run, when the task is scheduled
    stopped_runs: int = 0  # running runs asked to stop
    deferred: bool = False  # the backend is told when the current transaction commits

    @property
    def id(self) -> str:
        """The job id, as 0.5.x's ``launch`` gave it (its RQ job's ``id``)."""
        return self.job_id


def after_commit(
    send: Callable[[], Any],
    undo: Callable[[], None],
    defer: bool = True,
    undo_later: Callable[[], None] | None = None,
) -> bool:
    """Run ``send`` now, or when the current transaction commits; return True if deferred.

    A deferred ``send`` that fails is logged and ``undo`` puts the task state back (the caller
    has gone by then); an immediate one raises its BackendError to the caller. ``defer=False``
    sends at once even inside a transaction (the 0.5.x queue-service API did). ``undo_later``,
    when given, replaces ``undo`` for a deferred send that fails.
    """
    if not (defer and transaction.get_connection().in_atomic_block):
        try:
            send()
        except BackendError:
            undo()
            raise
        return False

    def send_on_commit():
        try:
            send()
        except BackendError as exc:
            logger.error("Not sent to the task queue after the commit: %s", exc)
            (undo_later or undo)()

    transaction.on_commit(send_on_commit)
    return True


def launch(task: Task, backend: Backend | None = None, defer: bool = True) -> Outcome:
    """Run ``task`` as soon as possible, whatever its schedule."""
    backend = backend or get_backend()
    job_id = backend.new_job_id(task.pk)
    if backend.runs_in_process:
        job = taskstate.job_for(task, job_id)
        return Outcome(task, RAN, job_id=job_id, report=backend.enqueue(job))
    job, report = launches.prepare(task, job_id)
    taskstate.queued(task)

    def undo():
        launches.withdraw(report)
        taskstate.not_queued(task)

    # An accepted launch whose send fails after the commit stays queued: the sweep sends it.
    deferred = after_commit(lambda: backend.enqueue(job), undo, defer, undo_later=lambda: None)
    return Outcome(task, QUEUED, job_id=job_id, deferred=deferred)


def apply_schedule(task: Task, backend: Backend | None = None, defer: bool = True) -> Outcome:
    """Make the backend match the task's schedule fields: schedule, re-time or unschedule."""
    if task.is_scheduled:
        return schedule(task, backend, defer)
    if task.scheduled_job_id or task.status == Task.STATUS_SCHEDULED:
        return unschedule(task, backend, defer)
    return Outcome(task, UNCHANGED)


def schedule(task: Task, backend: Backend | None = None, defer: bool = True) -> Outcome:
    """Schedule the next run(s) of ``task``; refuses a one-off time in the past."""
    backend = backend or get_backend()
    if not backend.supports_schedule:
        raise BackendError(cannot_schedule())
    taskstate.start_now_if_unset(task)
    when = taskstate.first_run(task)
    previous_job_id = task.scheduled_job_id
    job_id = backend.new_job_id(task.pk)
    taskstate.scheduled(task, job_id, when)

    def send():
        backend.cancel(previous_job_id)
        taskstate.write_schedule(task, backend, job_id, when)

    deferred = after_commit(send, lambda: taskstate.unschedule(task), defer)
    return Outcome(task, SCHEDULED, job_id=job_id, when=when, deferred=deferred)


def unschedule(task: Task, backend: Backend | None = None, defer: bool = True) -> Outcome:
    """Forget ``task``'s schedule; the task becomes idle."""
    backend = backend or get_backend()
    job_id = task.scheduled_job_id
    taskstate.unschedule(task)
    deferred = after_commit(lambda: backend.cancel(job_id), lambda: None, defer)
    return Outcome(task, UNSCHEDULED, deferred=deferred)


def stop(task: Task, by: str, backend: Backend | None = None, defer: bool = True) -> Outcome:
    """Unschedule ``task``, drop its queued runs and stop its running ones.

    A running job's work horse is killed by its worker, which then closes the report as
    failed, "stopped by <by>" (see ``guard.job_stopped``); a run no worker has is closed here.
    """
    backend = backend or get_backend()
    unschedule(task, backend, defer)
    backend.drop_queued(task.pk)
    unfinished = list(LaunchReport.objects.filter(task_id=task.pk, invocation_result=""))
    LaunchReport.objects.filter(pk__in=[r.pk for r in unfinished]).update(stop_requested_by=by)
    running = [report for report in unfinished if not report.is_queued]
    for report in unfinished:
        if report.is_queued:  # its job was dropped above (or will find its launch closed)
            close_run(report, f"stopped by {by}", retry=False, backend=backend)
            continue
        report.stop_requested_by = by
        if not (report.rq_job_id and backend.stop_running(report.rq_job_id)):
            close_run(report, f"stopped by {by}", retry=False, backend=backend)
    return Outcome(task, STOPPED, stopped_runs=len(running))
