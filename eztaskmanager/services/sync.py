"""Make Redis match the Task table: the database says what should run when.

A task whose ``scheduled_job_id`` is set should have that job in rq-scheduler's set, due at the
task's next run. ``sync_schedules`` restores missing jobs (after a Redis restart or ``FLUSHALL``),
removes jobs of ours that no task claims (deleted or stopped tasks, duplicates), re-times jobs
whose due time no longer matches the task's schedule, and refreshes ``cached_next_ride``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from eztaskmanager.services.queues import JOB_PREFIX, RQTaskQueueService

logger = logging.getLogger(__name__)

# A due time this close to the expected one is left alone (rounding, clock steps).
TOLERANCE = timedelta(seconds=1)


@dataclass
class SyncResult:
    """What a sync changed, by task id or job id."""

    restored: list[int] = field(default_factory=list)
    retimed: list[int] = field(default_factory=list)
    removed_jobs: list[str] = field(default_factory=list)
    unscheduled: list[int] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.retimed or self.removed_jobs or self.unscheduled)

    def __str__(self) -> str:
        return (
            f"{len(self.restored)} restored, {len(self.retimed)} re-timed, "
            f"{len(self.removed_jobs)} orphan job(s) removed, {len(self.unscheduled)} finished "
            f"one-off schedule(s) cleared, {self.unchanged} unchanged"
        )


def sync_schedules(service: RQTaskQueueService | None = None) -> SyncResult:
    """Reconcile rq-scheduler's scheduled jobs with the Task table; return what changed."""
    from rq.job import JobStatus

    from eztaskmanager.models import Task

    service = service or RQTaskQueueService()
    connection = service.connection
    key = service.scheduler.scheduled_jobs_key
    now = timezone.now()
    result = SyncResult()

    scores = {
        job_id.decode(): datetime.fromtimestamp(score, tz=UTC)
        for job_id, score in service._guard(connection.zrange, key, 0, -1, withscores=True)
    }
    tasks = {
        task.scheduled_job_id: task
        for task in Task.objects.exclude(scheduled_job_id__isnull=True).exclude(scheduled_job_id="")
    }

    for job_id in sorted(scores):
        if job_id.startswith(JOB_PREFIX) and job_id not in tasks:
            service.cancel_job(job_id)
            result.removed_jobs.append(job_id)

    updates = []
    for job_id, task in tasks.items():
        schedule = task.schedule
        due = scores.get(job_id)
        if due is None:
            status = _job_status(service, job_id)
            if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED):
                result.unchanged += 1  # on its way through a worker right now
                continue
            if not schedule.is_periodic and _already_ran(task):
                service.mark_unscheduled(task)
                result.unscheduled.append(task.pk)
                continue
            when = _expected(schedule, now) or now  # a missed one-off runs late, not never
            service.write_scheduled_job(task, job_id, when)
            result.restored.append(task.pk)
        else:
            expected = _expected(schedule, now)
            if due > now and expected is not None and abs(due - expected) > TOLERANCE:
                service._guard(connection.zadd, key, {job_id: expected.timestamp()}, xx=True)
                result.retimed.append(task.pk)
                when = expected
            else:
                when = due
                result.unchanged += 1
        if task.cached_next_ride != when or task.status == Task.STATUS_IDLE:
            task.cached_next_ride = when
            if task.status == Task.STATUS_IDLE:
                task.status = Task.STATUS_SCHEDULED
            updates.append(task)
    Task.objects.bulk_update(updates, ["cached_next_ride", "status"], batch_size=500)
    if result.changed:
        logger.info("Schedules synced: %s", result)
    return result


def _expected(schedule, now: datetime) -> datetime | None:
    """When the job should be due: the next run of a repetition, the start of a one-off."""
    if schedule.is_periodic:
        return schedule.next_run(after=now)
    if schedule.start is not None and schedule.start > now:
        return schedule.start.astimezone(UTC)
    return None


def _job_status(service: RQTaskQueueService, job_id: str):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return service._guard(Job.fetch, job_id, connection=service.connection).get_status()
    except NoSuchJobError:
        return None


def _already_ran(task) -> bool:
    """A one-off schedule whose run happened (a report started at or after its time)."""
    if task.scheduling is None:
        return False
    return task.launchreport_set.filter(started_at__gte=task.scheduling).exists()
