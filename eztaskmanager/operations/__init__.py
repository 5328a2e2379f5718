"""Operations: what staff, the command line, tasks-as-code and the scheduler can do to a task.

``launch``, ``stop``, ``resume``, ``apply_schedule`` and ``unschedule`` each return an
``Outcome``. Whether a schedule is on is a field of the task (``schedule_enabled``): stopping or
unscheduling a task that has a schedule pauses it, resuming or scheduling turns it on, and a
schedule that is on but could not reach Redis is applied by the scheduler's next sync. Here the
command policy is checked (a task whose command may not run is neither launched nor scheduled),
each operation is recorded in the task's admin history with who did it (``user``; code that
gives none acts as the ``api`` actor), and a scheduled task whose command or arguments were
changed without the launch permission is held (unscheduled) until someone who has it approves
it (``authorisation``). A launch records what it runs: an edit applies to later launches only.
Task state changes go through ``taskstate`` (its one writer); the backend is told after the
database commit when the caller is inside a transaction (a rolled-back save leaves nothing in
Redis), at once otherwise. Admin, CLI, tasks-as-code and the legacy queue-service facade call
these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from eztaskmanager.backends import Backend, BackendError, cannot_schedule, get_backend
from eztaskmanager.core import arguments as task_arguments
from eztaskmanager.core import bounds, permissions, policy
from eztaskmanager.internals.django import in_atomic_block
from eztaskmanager.models import LaunchReport, Task, check_function_arguments
from eztaskmanager.operations import audit, authorisation
from eztaskmanager.records import launches, taskstate
from eztaskmanager.runs import close_run

logger = logging.getLogger(__name__)

QUEUED = "queued"
RAN = "ran"
SCHEDULED = "scheduled"
UNSCHEDULED = "unscheduled"
PAUSED = "paused"
STOPPED = "stopped"
UNCHANGED = "unchanged"


@dataclass
class Outcome:
    """What an operation did to one task."""

    task: Task
    state: str
    job_id: str = ""
    report: LaunchReport | None = None  # the run's report, when it ran in this process
    queued: LaunchReport | None = None  # the launch's queued report, when it was queued
    when: datetime | None = None  # the next run, when the task is scheduled
    stopped_runs: int = 0  # running runs asked to stop
    deferred: bool = False  # the backend is told when the current transaction commits

    @property
    def id(self) -> str:
        """The job id, as 0.5.x's ``launch`` gave it (its RQ job's ``id``)."""
        return self.job_id


HELD_REFUSAL = _(
    "what it runs was changed by “%(user)s”, who may not launch tasks: somebody who may "
    "launch tasks approves it by saving it unchanged or launching it"
)


class NotAllowed(BackendError):
    """The command policy refuses the task's command (callers treat it as any failed operation)."""


class BadArguments(BackendError):
    """One-off arguments that the task's command refuses; the message is its parser's."""


def check_arguments(task: Task, text: str) -> None:
    """Raise BadArguments unless the task's command accepts ``text`` as its arguments.

    The same checks as ``Task.clean``: the command's own parser, and no option that prints
    help or the version and exits; and no NUL character, which no database column stores.
    """
    if bounds.has_nul(text):
        raise BadArguments(bounds.nul_message())
    if task.command.is_function:
        found = check_function_arguments(task.command, text)[1]
        if found:
            raise BadArguments("; ".join(str(message) for message in found.values()))
        return
    try:
        parser = task.command.get_parser()
    except Exception as exc:  # the command may be gone from the project
        raise BadArguments(f"the command cannot be loaded: {exc}") from exc
    try:
        task_arguments.checked_argv(text, parser)  # one-off arguments: the current rule
    except task_arguments.ArgumentsError as exc:
        raise BadArguments(str(exc)) from exc


def allowed(task: Task) -> None:
    """Raise NotAllowed unless the policy lets ``task``'s command run."""
    refused = policy.refusal_explained(task.command)
    if refused:
        raise NotAllowed(refused)


def record(task: Task, user, message: str) -> None:
    """Add ``message`` to the task's admin history, by ``user`` or by the ``api`` actor."""
    audit.record(task, user if user is not None else audit.actor("api"), message)


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
    if not (defer and in_atomic_block(transaction.get_connection())):
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


def launch(
    task: Task,
    backend: Backend | None = None,
    defer: bool = True,
    user=None,
    arguments: str | None = None,
    triggered_by: int | None = None,
    call_id: str = "",
    queue: str = "",
    run_after: datetime | None = None,
    audited: bool = True,
) -> Outcome:
    """Run ``task`` as soon as possible, whatever its schedule.

    ``arguments`` runs it once with other arguments than its own, which stay as they are
    (BadArguments when its command refuses them); ``triggered_by`` is the id of the report
    whose end launched it, for a follow-up task. ``call_id`` and ``queue``: a call through
    Django's task API, its result id and its queue (``operations.calls``). ``run_after``: not
    before that time; the job waits in the scheduler (at once on a backend that cannot
    schedule). ``audited=False``: no line in the task's admin history (a call through Django's
    task API, which its report records, made by code, not by a person).
    """
    allowed(task)
    origin = {}
    if arguments is not None:
        check_arguments(task, arguments)
        origin["arguments"] = arguments
    if triggered_by is not None:
        origin["triggered_by"] = triggered_by
    origin.update({key: value for key, value in (("call_id", call_id), ("queue", queue)) if value})
    backend = backend or get_backend()
    message = launch_message(arguments, triggered_by)
    if arguments is None and triggered_by is None:  # the task as it stands: approved
        authorisation.launched(task, user)
    job_id = backend.new_job_id(task.pk)
    if backend.runs_in_process:
        if audited:
            record(task, user, message)
        job = taskstate.job_for(task, job_id, **origin)
        return Outcome(task, RAN, job_id=job_id, report=backend.enqueue(job))
    deferred_to = run_after if run_after is not None and backend.supports_schedule else None
    if deferred_to is not None:
        origin["run_after"] = deferred_to
    job, report = launches.prepare(task, job_id, **origin)
    taskstate.queued(task)

    def send():
        if deferred_to is not None and deferred_to > timezone.now():
            backend.schedule_at(job, deferred_to)
        else:
            backend.enqueue(job)

    def undo():
        launches.withdraw(report)
        taskstate.not_queued(task)

    # An accepted launch whose send fails after the commit stays queued: the sweep sends it.
    deferred = after_commit(send, undo, defer, undo_later=lambda: None)
    # Recorded once accepted: a launch the queue refused (Redis down) is no launch.
    if audited:
        record(task, user, message)
    return Outcome(task, QUEUED, job_id=job_id, queued=report, deferred=deferred)


def launch_message(arguments: str | None, triggered_by: int | None) -> str:
    message = "Launched"
    if arguments is not None:
        message += f" once with the arguments {arguments!r}"
    if triggered_by is not None:
        message += f" as a follow-up of run {triggered_by}"
    return message


def apply_schedule(
    task: Task, backend: Backend | None = None, defer: bool = True, user=None
) -> Outcome:
    """Make the backend match the task's schedule fields and ``schedule_enabled``: schedule,
    re-time, pause or unschedule."""
    if task.is_scheduled and task.schedule_enabled:
        return schedule(task, backend, defer, user)
    if task.is_scheduled:
        if task.scheduled_job_id or task.status == Task.STATUS_SCHEDULED:
            unschedule(task, backend, defer, user, message=permissions.PAUSED)
        return Outcome(task, PAUSED)
    if task.scheduled_job_id or task.status == Task.STATUS_SCHEDULED:
        return unschedule(task, backend, defer, user)
    return Outcome(task, UNCHANGED)


def schedule(task: Task, backend: Backend | None = None, defer: bool = True, user=None) -> Outcome:
    """Turn ``task``'s schedule on and schedule its next run(s); refuses a one-off time in the
    past (the schedule is then off) and a held task (what it runs waits for approval). When the
    backend cannot be told, the schedule stays on and the scheduler's next sync applies it."""
    allowed(task)
    if authorisation.is_held(task):
        raise NotAllowed(HELD_REFUSAL % {"user": task.held_by})
    backend = backend or get_backend()
    if not backend.supports_schedule:
        raise BackendError(cannot_schedule())
    taskstate.start_now_if_unset(task)
    try:
        when = taskstate.first_run(task)
    except BackendError:
        if task.schedule_enabled:
            taskstate.disable(task)  # a one-off time in the past: nothing to turn on
        raise
    # The job the database knows of: a sync may have given the task one since it was read.
    previous_job_id = taskstate.current_job_id(task) or task.scheduled_job_id
    job_id = backend.new_job_id(task.pk)
    taskstate.scheduled(task, job_id, when)

    def send():
        backend.cancel(previous_job_id)
        taskstate.write_schedule(task, backend, job_id, when)

    deferred = after_commit(send, lambda: taskstate.unschedule(task), defer)
    record(task, user, f"{permissions.SCHEDULED}; next run at {when.isoformat()}")
    return Outcome(task, SCHEDULED, job_id=job_id, when=when, deferred=deferred)


def unschedule(
    task: Task,
    backend: Backend | None = None,
    defer: bool = True,
    user=None,
    message: str = permissions.UNSCHEDULED,
) -> Outcome:
    """Take ``task``'s job away; the task becomes idle. A task that has a schedule keeps it,
    paused (no sync applies it again until it is resumed)."""
    backend = backend or get_backend()
    job_id = task.scheduled_job_id
    taskstate.unschedule(task, pause=task.is_scheduled)
    deferred = after_commit(lambda: backend.cancel(job_id), lambda: None, defer)
    if message:
        record(task, user, message)
    return Outcome(task, UNSCHEDULED, deferred=deferred)


def stop(
    task: Task, by: str, backend: Backend | None = None, defer: bool = True, user=None
) -> Outcome:
    """Unschedule ``task``, drop its queued runs and stop its running ones.

    A running job's work horse is killed by its worker, which then closes the report as
    failed, "stopped by <by>" (see ``guard.job_stopped``); a run no worker has is closed here,
    and the scheduler's next pass sends its notifications and launches its follow-ups.
    """
    backend = backend or get_backend()
    unschedule(task, backend, defer, message="")
    record(task, user, f"{permissions.STOPPED} by {by}")
    backend.drop_queued(task.pk, task.queue or None)
    unfinished = list(LaunchReport.objects.filter(task_id=task.pk, invocation_result=""))
    LaunchReport.objects.filter(pk__in=[r.pk for r in unfinished]).update(stop_requested_by=by)
    running = [report for report in unfinished if not report.is_queued]
    for report in unfinished:
        if report.is_queued:  # its job was dropped above (or will find its launch closed)
            close_run(report, f"stopped by {by}", retry=False, backend=backend, react_here=False)
            continue
        report.stop_requested_by = by
        if not (report.rq_job_id and backend.stop_running(report.rq_job_id)):
            close_run(report, f"stopped by {by}", retry=False, backend=backend, react_here=False)
    return Outcome(task, STOPPED, stopped_runs=len(running))


def stop_run(report: LaunchReport, by: str, backend: Backend | None = None, user=None) -> bool:
    """Stop one run (running or queued) of a task, leaving its schedule as it is.

    As in ``stop``: a running job's work horse is killed by its worker, which closes the report
    "stopped by <by>"; a queued run, or one no worker has, is closed here (its job, when a
    worker takes it, finds its launch closed). False when the run had already ended.
    """
    if report.is_finished:
        return False
    backend = backend or get_backend()
    record(report.task, user, f"{permissions.STOPPED} run {report.pk} by {by}")
    LaunchReport.objects.filter(pk=report.pk, invocation_result="").update(stop_requested_by=by)
    report.stop_requested_by = by
    if report.is_queued or not (report.rq_job_id and backend.stop_running(report.rq_job_id)):
        close_run(report, f"stopped by {by}", retry=False, backend=backend, react_here=False)
    return True


def resume(
    task: Task, backend: Backend | None = None, defer: bool = True, user=None, by: str = ""
) -> Outcome:
    """Turn ``task``'s paused schedule back on and apply it: its job and next run.

    BadArguments (a BackendError) when the task has no schedule. When the backend cannot be
    reached the schedule stays on, and the scheduler's next sync applies it.
    """
    if not task.is_scheduled:
        raise BadArguments(_("“%(task)s” has no schedule to resume.") % {"task": task.name})
    allowed(task)
    record(task, user, f"{permissions.RESUMED} by {by}" if by else permissions.RESUMED)
    taskstate.enable(task)
    return schedule(task, backend, defer, user)


def hold_if_unauthorised(task: Task, user, changed, backend: Backend | None = None) -> bool:
    """After ``user`` changed ``changed`` (field names) of ``task``: hold it when they may not
    launch tasks and a run field changed, approve it when they may.

    Returns whether the task was held. A held task that was scheduled is unscheduled: its job
    leaves Redis on commit, or at the scheduler's next sync should Redis be out of reach. It
    stays held (``Task.held_since``) until somebody with the permission approves it.
    """
    if not authorisation.changed(task, user, changed):
        return False
    if permissions.is_scheduled_now(task):
        unschedule(task, backend, user=user, message=permissions.HELD)
    return True
