"""Make Redis match the Task table: the database says what should run when.

A task whose schedule is on (``schedule_enabled``) should have a job in rq-scheduler's set, due
at the task's next run. ``sync_schedules`` gives a job to every enabled schedule that has none
(one saved while Redis was down), restores missing jobs (after a Redis restart or ``FLUSHALL``),
drops the job of a paused schedule, removes jobs of ours that no task claims (deleted or stopped
tasks, duplicates), re-times jobs whose due time no longer matches the task's schedule, and
refreshes ``cached_next_ride``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta  # noqa: F401

from django.db.models import Q
from django.utils import timezone

from eztaskmanager.backends import JOB_PREFIX, BackendError, RQBackend
from eztaskmanager.core import policy
from eztaskmanager.models import Task
from eztaskmanager.records import taskstate
from eztaskmanager.scheduler.outage import OUTAGES

logger = logging.getLogger(__name__)

# A due time this close to the expected one is left alone (rounding, clock steps).
TOLERANCE = timedelta(seconds=1)


@dataclass
class SyncResult:
    """What a sync changed, by task id or job id."""

    restored: list[int] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)  # enabled schedules that had no job
    paused: list[int] = field(default_factory=list)  # paused schedules whose job was dropped
    retimed: list[int] = field(default_factory=list)
    removed_jobs: list[str] = field(default_factory=list)
    unscheduled: list[int] = field(default_factory=list)
    unchanged: int = 0
    # Tasks whose schedule could not be computed or written: (task id, error); the rest go on.
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.restored
            or self.applied
            or self.paused
            or self.retimed
            or self.removed_jobs
            or self.unscheduled
            or self.failed
        )

    def __str__(self) -> str:
        return (
            f"{len(self.restored)} restored, {len(self.applied)} applied, "
            f"{len(self.paused)} paused, {len(self.retimed)} re-timed, "
            f"{len(self.removed_jobs)} orphan job(s) removed, {len(self.unscheduled)} finished "
            f"one-off schedule(s) cleared, {self.unchanged} unchanged"
        ) + "".join(f"; task {task_id} not scheduled: {error}" for task_id, error in self.failed)


def sync_schedules(backend: RQBackend | None = None) -> SyncResult:
    """Reconcile the backend's scheduled jobs with the Task table; return what changed."""
    backend = backend or RQBackend()
    now = timezone.now()
    result = SyncResult()
    scores = backend.scheduled()
    _pause_jobs(result)
    _claim_jobs(backend, result)
    tasks = {
        task.scheduled_job_id: task
        for task in Task.objects.exclude(scheduled_job_id__isnull=True).exclude(scheduled_job_id="")
    }
    for job_id in sorted(scores):
        if job_id.startswith(JOB_PREFIX) and job_id not in tasks:
            backend.cancel(job_id)
            result.removed_jobs.append(job_id)
    missing = [job_id for job_id in tasks if job_id not in scores]
    moving = backend.on_their_way(missing) if missing else set()
    due_times, writes = {}, []
    for job_id, task in tasks.items():
        due = "moving" if job_id in moving else scores.get(job_id)
        try:
            when = _reconcile(backend, task, job_id, due, now, result, writes)
        except OUTAGES:
            raise
        except Exception as exc:  # one task's bad schedule must not stop the others
            if isinstance(exc, BackendError) and exc.unreachable:
                raise
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("Task %s not scheduled: %s", task.pk, error)
            taskstate.schedule_failed(task.pk, error)
            result.failed.append((task.pk, error))
            continue
        if when is not None:
            due_times[task] = when
    backend.schedule_many(writes)  # restored jobs, pipelined: a wiped Redis is rebuilt fast
    taskstate.synced(due_times)
    if result.changed:
        logger.info("Schedules synced: %s", result)
    return result


HAS_JOB = Q(scheduled_job_id__isnull=False) & ~Q(scheduled_job_id="")
HAS_SCHEDULE = (
    Q(scheduling__isnull=False)
    | ~Q(cron_expression="")
    | (~Q(repetition_period="") & Q(repetition_rate__isnull=False))
)


def _pause_jobs(result: SyncResult) -> None:
    """A paused schedule keeps no job: its task forgets it (the job goes as an orphan)."""
    for task in Task.objects.filter(HAS_JOB, schedule_enabled=False):
        taskstate.unschedule(task)
        result.paused.append(task.pk)


def _claim_jobs(backend, result: SyncResult) -> None:
    """Give a job id to every enabled schedule without one; the reconciliation then writes it.

    The id is stored first: a scheduler drops a due job that no task claims.
    """
    # A held task waits for approval: its schedule is applied once somebody approves it.
    waiting = Task.objects.filter(HAS_SCHEDULE, schedule_enabled=True, held_since__isnull=True)
    waiting = waiting.exclude(HAS_JOB)
    for task in waiting.select_related("command"):
        if not task.is_scheduled:
            continue  # half a repetition (period without rate): nothing to apply
        refused = policy.refusal(task.command)
        if refused:  # the policy changed since the schedule was saved
            if task.schedule_error != refused:
                taskstate.schedule_failed(task.pk, refused)
                result.failed.append((task.pk, refused))
            continue
        if not task.is_periodic and _already_ran(task):
            taskstate.one_off_done(task)
            result.unscheduled.append(task.pk)
            continue
        taskstate.start_now_if_unset(task)
        if taskstate.claim_job(task, backend.new_job_id(task.pk)):
            result.applied.append(task.pk)


def _reconcile(backend, task, job_id: str, due, now, result: SyncResult, writes: list):
    """Put one task's job right (restored jobs are added to ``writes``); return its due time
    (None: nothing more to store). ``due`` is "moving" for a job on its way through a worker."""
    schedule = task.schedule
    if due == "moving":
        result.unchanged += 1  # on its way through a worker right now
        return None
    if due is None:
        if not schedule.is_periodic and _already_ran(task):
            taskstate.one_off_done(task)
            result.unscheduled.append(task.pk)
            return None
        when = _expected(schedule, now) or now  # a missed one-off runs late, not never
        writes.append((taskstate.scheduled_job(task, job_id, when), when))
        if task.pk not in result.applied:
            result.restored.append(task.pk)
        return when
    expected = _expected(schedule, now)
    if due > now and expected is not None and abs(due - expected) > TOLERANCE:
        backend.set_due_time(job_id, expected)
        result.retimed.append(task.pk)
        return expected
    result.unchanged += 1
    return due


def _expected(schedule, now: datetime) -> datetime | None:
    """When the job should be due: the next run of a repetition, the start of a one-off."""
    if schedule.is_periodic:
        return schedule.next_run(after=now)
    if schedule.start is not None and schedule.start > now:
        return schedule.start.astimezone(UTC)
    return None


def _already_ran(task) -> bool:
    """A one-off schedule whose run happened (a report started at or after its time)."""
    if task.scheduling is None:
        return False
    # A firing is recorded as a queued launch before it runs: that counts too.
    return task.launchreport_set.filter(
        Q(started_at__gte=task.scheduling) | Q(invocation_datetime__gte=task.scheduling)
    ).exists()
