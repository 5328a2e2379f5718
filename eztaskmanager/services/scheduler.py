"""The scheduler process behind ``manage.py taskmanager scheduler``.

It extends rq-scheduler's loop in these ways:

* punctual: it polls every fraction of a second and compares exact (sub-second) due times;
* exactly once: each firing is claimed with one atomic Redis script that also moves the job to
  its next due time, so several schedulers can run side by side and a firing is enqueued once;
* the database decides: a task's next run comes from its schedule in the Task table (calendar
  months, cron, wall-clock time in ``TIME_ZONE``), a job whose task is gone or stopped is dropped,
  and a sync (see ``sync.py``) runs at start and then every ``sync_interval`` seconds;
* dead runs are closed: every heartbeat period it fails the runs whose process stopped beating
  (see ``guard.py``), and alerts for tasks with no successful run for too long (``alerts.py``).
* it outlives a Redis outage or a Sentinel failover: it retries with a capped backoff, and a
  firing claimed just before Redis went away is enqueued once Redis is back (see ``outage.py``).

Jobs that are not ours are handed to rq-scheduler's own logic.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import django_rq
from django.db import close_old_connections, connection
from rq.exceptions import NoSuchJobError
from rq_scheduler import Scheduler
from rq_scheduler.utils import setup_loghandlers

from eztaskmanager import alerts, conf, taskstate
from eztaskmanager.backends.rq import META_TASK_ID, RQBackend
from eztaskmanager.models import Task
from eztaskmanager.services.guard import reap_orphans
from eztaskmanager.services.outage import run_through_outages
from eztaskmanager.services.sync import sync_schedules

logger = logging.getLogger(__name__)

# Claim a firing: only if the job is still due at the score this scheduler read, move it to its
# next due time (or drop it) and answer 1; another scheduler that read the same score gets 0.
CLAIM_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or score ~= ARGV[2] then
    return 0
end
if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""


class TaskScheduler(Scheduler):
    """rq-scheduler with exact due times, atomic claims and the Task table as the reference."""

    def __init__(self, *args, sync_interval: float = 60.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_interval = sync_interval
        self._next_sync = 0.0
        self._next_reap = 0.0
        self._claim = self.connection.register_script(CLAIM_SCRIPT)
        self._claimed: list = []  # firings claimed but not yet on their queue

    def run(self, burst=False):
        run_through_outages(self, burst=burst)

    def enqueue_jobs(self):
        if not connection.in_atomic_block:
            close_old_connections()  # a long-lived process: drop connections the server closed
        if self.sync_interval and time.monotonic() >= self._next_sync:
            self._next_sync = time.monotonic() + self.sync_interval
            self.sync()
        if time.monotonic() >= self._next_reap:
            self._next_reap = time.monotonic() + conf.get("HEARTBEAT_SECONDS")
            self.reap()
        enqueued = [self._enqueue_claimed(job, due) for job, due in list(self._claimed)]
        now = time.time()
        due = self.connection.zrangebyscore(
            self.scheduled_jobs_key, "-inf", now, withscores=True, score_cast_func=bytes.decode
        )
        for raw_id, raw_score in due:
            job_id = raw_id.decode()
            try:
                job = self.job_class.fetch(job_id, connection=self.connection)
            except NoSuchJobError:
                self.cancel(job_id)
                continue
            if META_TASK_ID not in job.meta:
                self.enqueue_job(job)  # not ours: rq-scheduler's rules
                enqueued.append(job)
                continue
            next_due, wanted = self.next_due(job, float(raw_score), now)
            if self._claim(keys=[self.scheduled_jobs_key], args=[job_id, raw_score, next_due]):
                if wanted:
                    enqueued.append(self._enqueue_claimed(job, raw_score))
                else:
                    job.delete()
        return enqueued

    def _enqueue_claimed(self, job, due: str):
        # The claim already moved the schedule on: if Redis goes away before the job is on its
        # queue, keep it and enqueue it on the next pass, or this firing would be lost.
        if (job, due) not in self._claimed:
            self._claimed.append((job, due))
        self.get_queue_for_job(job).enqueue_job(job)
        self._claimed.remove((job, due))
        self.log.debug("Enqueued firing %s due at %s", job.id, due)
        return job

    def next_due(self, job, due: float, now: float) -> tuple[str, bool]:
        """The job's next score ('' for none) and whether this firing should run."""
        task = Task.objects.filter(pk=job.meta[META_TASK_ID]).first()
        if task is None or task.scheduled_job_id != job.id:
            logger.info("Dropping scheduled job %s: its task is gone or was rescheduled", job.id)
            return "", False
        schedule = task.schedule
        if not schedule.is_periodic:
            return "", True
        # Missed firings (scheduler down) collapse into this one; the next is in the future.
        after = datetime.fromtimestamp(max(due, now), tz=UTC)
        following = schedule.next_run(after=after)
        if following is None:
            return "", True
        taskstate.next_ride(task.pk, following)
        return repr(following.timestamp()), True

    def reap(self) -> None:
        """Close runs whose process died (their heartbeat stopped)."""
        try:
            reap_orphans()
        except Exception:  # never stop the scheduling loop
            logger.exception("Closing dead runs failed")
        try:
            alerts.check_overdue()
        except Exception:  # nor for a missed-run alert
            logger.exception("Checking for overdue tasks failed")

    def sync(self) -> None:
        try:
            result = sync_schedules(RQBackend(self.queue_name, connection=self.connection))
        except Exception:  # a failed sync must not stop the scheduling loop
            logger.exception("Schedule sync failed")
        else:
            if result.changed:
                logger.info("Schedule sync: %s", result)


def run_scheduler(
    queue_name: str = "default",
    interval: float = 0.2,
    sync_interval: float = 60.0,
    burst: bool = False,
    verbose: bool = False,
) -> None:
    """Run the scheduling loop until stopped (SIGINT / SIGTERM)."""
    setup_loghandlers("DEBUG" if verbose else "INFO")
    queue = django_rq.get_queue(queue_name)
    scheduler = TaskScheduler(
        queue=queue,
        connection=queue.connection,
        interval=interval,
        sync_interval=sync_interval,
    )
    scheduler.run(burst=burst)
