"""Task state: the one writer of ``Task.status``, ``scheduled_job_id``, ``cached_next_ride``
and ``schedule_enabled`` (the admin form's save aside: the operator sets "schedule on" there).

The records layer, below the use cases (``operations``), the run lifecycle (``runs``) and
the schedule sync (``scheduler/sync.py``), which call these functions; nothing else writes
those fields.
Writes are conditional updates of the fields concerned, so that a run finishing in a worker and
an operator saving the task in the admin never overwrite each other's columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from eztaskmanager import conf
from eztaskmanager.backends import Backend, BackendError, Job
from eztaskmanager.core.schedules import Schedule
from eztaskmanager.models import Task

logger = logging.getLogger(__name__)

ONE_SECOND = timedelta(seconds=1)


def job_timeout(task: Task) -> int | None:
    """The job timeout of ``task``'s runs (None: the queue's default)."""
    return task.timeout or conf.get("DEFAULT_TIMEOUT")


def job_for(task: Task, job_id: str, **kwargs) -> Job:
    """The job that runs ``task`` once, with keyword arguments ``kwargs`` for the run."""
    return Job(
        task_id=task.pk,
        job_id=job_id,
        description=f"eztaskmanager: {task.name}",
        timeout=job_timeout(task),
        kwargs=kwargs,
        queue=task.queue or None,
    )


def nominal_interval(schedule: Schedule, when: datetime) -> int:
    """Seconds between ``when`` and the run after it (at least one)."""
    following = schedule.next_run(after=when)
    if following is None:
        return 60
    return max(int((following - when).total_seconds()), 1)


def first_run(task: Task, now: datetime | None = None) -> datetime:
    """When a scheduled task runs first; refuses a one-off time in the past."""
    now = now or timezone.now()
    schedule = Schedule.for_task(task)
    if not schedule.is_periodic:
        if schedule.start < now:
            raise BackendError(_("It is not possible to schedule tasks in the past."))
        return schedule.start.astimezone(UTC)
    return schedule.next_run(after=now - ONE_SECOND / 2)


def write_schedule(task: Task, backend: Backend, job_id: str, when: datetime) -> None:
    """Store ``task``'s scheduled job ``job_id`` in the backend, due at ``when``."""
    backend.schedule_at(scheduled_job(task, job_id, when), when)


def scheduled_job(task: Task, job_id: str, when: datetime) -> Job:
    """``task``'s scheduled job ``job_id``, first due at ``when``."""
    job = job_for(task, job_id, scheduled=True)
    schedule = Schedule.for_task(task)
    if schedule.is_periodic:
        job = replace(job, interval=nominal_interval(schedule, when))
    return job


def start_now_if_unset(task: Task) -> None:
    """A repetition counts from its first run: with no start given, that is now."""
    if task.is_periodic and not task.cron_expression and task.scheduling is None:
        task.scheduling = timezone.now()
        Task.objects.filter(pk=task.pk).update(scheduling=task.scheduling)


def scheduled(task: Task, job_id: str, when: datetime) -> None:
    _set(
        task,
        status=Task.STATUS_SCHEDULED,
        scheduled_job_id=job_id,
        cached_next_ride=when,
        schedule_error="",
        schedule_enabled=True,
    )


def current_job_id(task: Task) -> str | None:
    """``task``'s scheduled job id as the database has it now."""
    return Task.objects.filter(pk=task.pk).values_list("scheduled_job_id", flat=True).first()


def enable(task: Task) -> None:
    """The schedule is on: the next sync applies it if it has no job (Redis down meanwhile)."""
    _set(task, schedule_enabled=True)


def disable(task: Task) -> None:
    """The schedule is off: paused, or a one-off that had its turn."""
    _set(task, schedule_enabled=False)


def claim_job(task: Task, job_id: str) -> bool:
    """Give an enabled task without a job the id ``job_id``; False if it has one meanwhile.

    Written before the job reaches Redis: a scheduler drops a job that no task claims.
    """
    no_job = Q(scheduled_job_id__isnull=True) | Q(scheduled_job_id="")
    claimed = Task.objects.filter(no_job, pk=task.pk, schedule_enabled=True).update(
        scheduled_job_id=job_id
    )
    if claimed:
        task.scheduled_job_id = job_id
    return bool(claimed)


def one_off_done(task: Task) -> None:
    """A one-off schedule whose run happened: no job, idle, and off (done, not paused)."""
    _set(
        task,
        status=Task.STATUS_IDLE,
        scheduled_job_id=None,
        cached_next_ride=None,
        schedule_enabled=False,
    )


def schedule_failed(task_id: int, error: str) -> None:
    """The scheduler could not compute or send ``task``'s next run: say why on the task."""
    Task.objects.filter(pk=task_id).update(schedule_error=error[:2000], cached_next_ride=None)


def reconcile_waiting() -> int:
    """A task ``spooled`` or ``started`` with no run left without a result goes back to its
    schedule state (scheduled or idle); return how many tasks changed."""
    waiting = Task.objects.filter(status__in=[Task.STATUS_SPOOLED, Task.STATUS_STARTED]).exclude(
        launchreport__invocation_result=""
    )
    changed = (
        waiting.filter(scheduled_job_id__isnull=False)
        .exclude(scheduled_job_id="")
        .update(status=Task.STATUS_SCHEDULED)
    )
    return changed + waiting.update(status=Task.STATUS_IDLE)


def unschedule(task: Task, backend: Backend | None = None, pause: bool = False) -> None:
    """Forget ``task``'s job (in the backend too, when one is given) and its next run; with
    ``pause`` its schedule is also turned off, so that no sync applies it again."""
    if backend is not None:
        backend.cancel(task.scheduled_job_id)
    values = {"status": Task.STATUS_IDLE, "scheduled_job_id": None, "cached_next_ride": None}
    if pause:
        values["schedule_enabled"] = False
    _set(task, **values)


def queued(task: Task) -> None:
    """An idle task has a run on its way to a worker."""
    if task.status == Task.STATUS_IDLE:
        task.status = Task.STATUS_SPOOLED
        Task.objects.filter(pk=task.pk, status=Task.STATUS_IDLE).update(status=Task.STATUS_SPOOLED)


def not_queued(task: Task) -> None:
    """A queued run did not reach the queue after all: a spooled task is idle again."""
    if task.status == Task.STATUS_SPOOLED:
        task.status = Task.STATUS_IDLE
    Task.objects.filter(pk=task.pk, status=Task.STATUS_SPOOLED).update(status=Task.STATUS_IDLE)


def started(task_id: int) -> None:
    Task.objects.filter(pk=task_id).update(status=Task.STATUS_STARTED)


def next_ride(task_id: int, when: datetime) -> None:
    Task.objects.filter(pk=task_id).update(cached_next_ride=when)


@dataclass(frozen=True)
class AfterRun:
    """The schedule state a task goes back to once a run ended, read from the backend before
    the run's outcome is stored; ``due_time_fix`` is the exact next run that the periodic job's
    due time gets after the commit (None: it is right)."""

    status: str
    scheduled_job_id: str | None
    cached_next_ride: datetime | None
    due_time_fix: datetime | None = None


def after_run(task: Task, scheduled: bool, backend: Backend) -> AfterRun:
    """What a run's end does to ``task``'s schedule state; never raises BackendError."""
    try:
        return _after_run(task, scheduled, backend)
    except BackendError as exc:
        logger.warning("Task %s: schedule state not refreshed: %s", task.pk, exc)
        status = Task.STATUS_SCHEDULED if task.scheduled_job_id else Task.STATUS_IDLE
        return AfterRun(status, task.scheduled_job_id, task.cached_next_ride)


def _after_run(task: Task, scheduled: bool, backend: Backend) -> AfterRun:
    """Re-time a periodic job to its exact next run; clear a finished one-off schedule."""
    if not task.scheduled_job_id:
        return AfterRun(Task.STATUS_IDLE, task.scheduled_job_id, None)
    current = backend.due_time(task.scheduled_job_id)
    if task.is_periodic:
        exact = Schedule.for_task(task).next_run(after=timezone.now())
        fix = None
        if current is not None and exact is not None and abs(current - exact) > ONE_SECOND:
            # A plain rqscheduler re-queues interval jobs at "now + interval"; put the exact
            # next run (calendar months, wall-clock days in TIME_ZONE, cron) in its place.
            fix = current = exact
        status = Task.STATUS_SCHEDULED if current else Task.STATUS_IDLE
        return AfterRun(status, task.scheduled_job_id, current, fix)
    if scheduled or current is None:
        return AfterRun(Task.STATUS_IDLE, None, None)
    return AfterRun(Task.STATUS_SCHEDULED, task.scheduled_job_id, current)


def run_ended(task: Task, report, scheduled: bool, state: AfterRun) -> None:
    """After a run: the task's schedule ``state`` and last-run cache, written together (in
    the transaction that stores the run's outcome: no backend call here)."""
    task.apply_report_cache(report)
    _set(
        task,
        status=state.status,
        scheduled_job_id=state.scheduled_job_id,
        cached_next_ride=state.cached_next_ride,
        **task.cache_values(),
    )
    if scheduled and not task.is_periodic and task.scheduling and not task.scheduled_job_id:
        # A one-off schedule that fired is done; one changed meanwhile in the admin is not.
        done = Task.objects.filter(pk=task.pk, scheduling=task.scheduling)
        done.filter(Q(scheduled_job_id__isnull=True) | Q(scheduled_job_id="")).update(
            schedule_enabled=False
        )


def fix_due_time(task: Task, state: AfterRun, backend: Backend) -> None:
    """After the commit: give the periodic job the exact next run ``state`` found."""
    if state.due_time_fix is None or not state.scheduled_job_id:
        return
    try:
        backend.set_due_time(state.scheduled_job_id, state.due_time_fix)
    except BackendError as exc:  # the scheduler's next sync puts it right
        logger.warning("Task %s: next run not re-timed: %s", task.pk, exc)


def synced(due_times: dict[Task, datetime]) -> None:
    """Store the next runs that a schedule sync found; an idle task with a job is scheduled."""
    changed = []
    for task, when in due_times.items():
        if task.cached_next_ride != when or task.status == Task.STATUS_IDLE or task.schedule_error:
            task.cached_next_ride = when
            task.schedule_error = ""
            if task.status == Task.STATUS_IDLE:
                task.status = Task.STATUS_SCHEDULED
            changed.append(task)
    Task.objects.bulk_update(
        changed, ["cached_next_ride", "status", "schedule_error"], batch_size=500
    )


def _set(task: Task, **values) -> None:
    for name, value in values.items():
        setattr(task, name, value)
    Task.objects.filter(pk=task.pk).update(**values)
