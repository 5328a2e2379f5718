"""The scheduler process behind ``manage.py taskmanager scheduler``.

It extends rq-scheduler's loop in these ways:

* punctual without polling: it waits for the next due time or a schedule write (a blocking pop
  on a wake-up list) and compares exact (sub-second) due times;
* exactly once: each firing is claimed with one atomic Redis script that also moves the job to
  its next due time, so several schedulers can run side by side and a firing is enqueued once;
* the database decides: a task's next run comes from its schedule in the Task table (calendar
  months, cron, wall-clock time in ``TIME_ZONE``), a job whose task is gone or stopped is dropped,
  and a sync (see ``sync.py``) runs at start and then every ``sync_interval`` seconds;
* dead runs are closed: every heartbeat period it fails the runs whose process stopped beating
  (see ``guard.py``), and alerts for tasks with no successful run for too long (``alerts.py``).
* it outlives a Redis or database outage, or a Sentinel failover: it retries with a capped
  backoff, and a firing claimed just before is enqueued once both are back (see ``outage.py``);
* each firing is recorded as a queued launch (see ``launches.py``) and lost launches are sent
  again (see ``sweep.py``); a task whose next run cannot be computed is set aside alone; a wiped
  Redis (its marker key gone) is rebuilt at once.

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

from eztaskmanager import alerts, conf, launches, liveness, taskstate
from eztaskmanager.backends import BackendError, Job, task_id_of
from eztaskmanager.backends.rq import META_TASK_ID, MISSING_KEY, SEEN_KEY, WAKE_KEY, RQBackend
from eztaskmanager.models import Task
from eztaskmanager.services.guard import reap_orphans
from eztaskmanager.services.outage import OUTAGES, run_through_outages
from eztaskmanager.services.sweep import sweep
from eztaskmanager.services.sync import sync_schedules

logger = logging.getLogger(__name__)

# Claim a firing: only if the job is still due at the score this scheduler read, move it to its
# next due time (or drop it) and answer 1; another scheduler that read the same score gets 0.
# Scores are compared as numbers: Redis writes a score read inside a script with 17 digits
# ("1796384422.6662459") and the same score in ZRANGEBYSCORE's reply in its shortest form
# ("1796384422.666246"), so comparing the strings refused such claims for ever.
CLAIM_SCRIPT = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not score) or tonumber(score) ~= tonumber(ARGV[2]) then
    return 0
end
if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
"""


REDIS_TICK = 0.1
SEEN_EVERY = 5.0  # seconds between two "last seen" stamps of a scheduler


class TaskScheduler(Scheduler):
    """rq-scheduler with exact due times, atomic claims and the Task table as the reference."""

    def __init__(self, *args, sync_interval: float = 60.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_interval = sync_interval
        self._next_sync = 0.0
        self._next_reap = 0.0
        self._next_sweep = 0.0
        self._claim = self.connection.register_script(CLAIM_SCRIPT)
        self._claimed: list = []  # firings not yet on their queue: task ids, or recorded Jobs
        self.backend = RQBackend(self.queue_name, connection=self.connection)
        self._seen_at = 0.0

    def run(self, burst=False):
        run_through_outages(self, burst=burst)

    def heartbeat(self):
        super().heartbeat()
        now = time.time()
        if now - self._seen_at >= SEEN_EVERY:  # when it was last seen, for status and metrics
            with self.connection.pipeline(transaction=False) as pipe:
                pipe.hset(self.key, "last_heartbeat", now).set(SEEN_KEY, now)
                *_, was_missing = pipe.delete(MISSING_KEY).execute()
            self._seen_at = now
            if was_missing:  # a worker warned that no scheduler ran: say it is over
                guarded("Sending the all-clear", liveness.scheduler_back)

    def enqueue_jobs(self):
        if not connection.in_atomic_block:
            close_old_connections()  # a long-lived process: drop connections the server closed
        if not self.backend.has_marker():
            self._next_sync = 0.0  # a new or wiped Redis: rebuild the schedule now
        if self.sync_interval and time.monotonic() >= self._next_sync:
            self._next_sync = time.monotonic() + self.sync_interval
            self.sync()
        self.housekeeping()
        enqueued = [job for job in self._send_claimed() if job is not None]
        now = time.time()
        due = self.connection.zrangebyscore(
            self.scheduled_jobs_key, "-inf", now, withscores=True, score_cast_func=bytes.decode
        )
        for raw_id, raw_score in due:
            try:
                job = self._fire_due(raw_id.decode(), raw_score, now)
            except OUTAGES:
                raise
            except Exception as exc:  # one bad task must not stop the others
                set_aside(self.connection, raw_id.decode(), exc)
                continue
            if job is not None:
                enqueued.append(job)
        return enqueued

    def _fire_due(self, job_id: str, raw_score: str, now: float):
        """Claim one due job and send its run; return the job sent, if any."""
        try:
            job = self.job_class.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            self.cancel(job_id)
            return None
        if META_TASK_ID not in job.meta:
            self.enqueue_job(job)  # not ours: rq-scheduler's rules
            return job
        next_due, wanted = self.next_due(job, float(raw_score), now)
        if not self._claim(keys=[self.scheduled_jobs_key], args=[job_id, raw_score, next_due]):
            return None
        if not next_due:
            job.delete()  # no next firing; each firing runs as a job of its own
        if not wanted:
            return None
        self._claimed.append(job.meta[META_TASK_ID])
        sent = self._send_claimed()
        if not sent:
            return None
        self.log.debug("Enqueued firing %s due at %s", job_id, raw_score)
        return sent[-1]

    def _send_claimed(self) -> list:
        # The claim already moved the schedule on: a firing not yet recorded (database away)
        # or not yet sent (Redis away) is kept and tried again on the next pass.
        sent = []
        while self._claimed:
            item = self._claimed[0]
            if not isinstance(item, Job):
                item = record_firing(item, self.backend)
                if item is None:
                    self._claimed.pop(0)
                    continue
                self._claimed[0] = item
            try:
                sent.append(send(self.backend, item))
            except BackendError as exc:  # not an outage: the sweep sends the recorded launch
                logger.error("Firing %s not sent: %s", item.job_id, exc)
            self._claimed.pop(0)
        return sent

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

    def housekeeping(self) -> None:
        """Close dead runs and send lost launches again, each at its own period."""
        now = time.monotonic()
        if now >= self._next_reap:
            self._next_reap = now + conf.get("HEARTBEAT_SECONDS")
            self.reap()
        if now >= self._next_sweep:
            self._next_sweep = now + conf.get("SWEEP_SECONDS")
            guarded("Sweep of lost launches", sweep, self.backend)

    def wait_for_work(self, longest: float) -> None:
        """Sleep until the next job is due, a schedule is written, or ``longest`` seconds."""
        wait_for_work(self.connection, self.scheduled_jobs_key, longest)

    def after_outage(self) -> None:
        # Runs could not beat while the database was away: give them a period to show up
        # before taking their silence for death.
        self._next_reap = time.monotonic() + conf.get("ORPHAN_AFTER_SECONDS")

    def reap(self) -> None:
        """Close runs whose process died (their heartbeat stopped)."""
        guarded("Closing dead runs", reap_orphans)
        guarded("Checking for overdue tasks", alerts.check_overdue)

    def sync(self) -> None:
        # The marker first: a wipe during the sync removes it, and the next pass syncs again.
        guarded("Marking Redis", self.backend.set_marker)
        result = guarded("Schedule sync", sync_schedules, self.backend)
        if result is not None:
            if result.changed:
                logger.info("Schedule sync: %s", result)


def set_aside(connection, job_id: str, exc: Exception) -> None:
    """Take the job of a task whose run cannot be computed or sent out of the schedule."""
    logger.exception("Scheduled job %s set aside: %s", job_id, exc)
    connection.zrem(Scheduler.scheduled_jobs_key, job_id)
    task_id = task_id_of(job_id)
    if task_id is not None:
        taskstate.schedule_failed(task_id, f"{type(exc).__name__}: {exc}")


def guarded(what: str, func, *args):
    """``func(*args)``; its failure is logged and the loop goes on, but an outage of Redis or
    of the database is raised for the outage loop to wait out."""
    try:
        return func(*args)
    except OUTAGES:
        raise
    except BackendError as exc:
        if exc.unreachable and exc.__cause__ is not None:
            raise exc.__cause__ from None
        logger.exception("%s failed", what)
    except Exception:  # never stop the scheduling loop
        logger.exception("%s failed", what)
    return None


def wait_for_work(connection, scheduled_key: str, longest: float) -> None:
    """``TaskScheduler.wait_for_work`` on ``connection``."""
    first = connection.zrange(scheduled_key, 0, 0, withscores=True)
    until = time.time() + longest
    if first:
        until = min(until, first[0][1])
    # Redis ends a blocking wait on its own clock tick (10 per second by default): block until
    # a tick before the due time, then sleep the rest here. A block longer than the socket's
    # time-out would end as a read error: block in pieces.
    socket_timeout = connection.connection_pool.connection_kwargs.get("socket_timeout")
    piece = socket_timeout / 2 if socket_timeout else longest
    while (coarse := until - time.time() - REDIS_TICK) >= 0.001:
        if connection.blpop([WAKE_KEY], timeout=min(coarse, piece)):
            return  # a schedule changed: look again now
    time.sleep(max(until - time.time(), 0))


def record_firing(task_id: int, backend: RQBackend) -> Job | None:
    """Record a claimed firing of task ``task_id`` as a queued launch; return its job."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return None
    job, _ = launches.prepare(task, backend.new_job_id(task.pk), scheduled=True)
    return job


def send(backend: RQBackend, job: Job):
    """Enqueue ``job``; an unreachable Redis is raised as Redis's own error (an outage)."""
    try:
        return backend.enqueue(job)
    except BackendError as exc:
        if exc.unreachable and exc.__cause__ is not None:
            raise exc.__cause__ from None
        raise


def run_scheduler(
    queue_name: str = "default",
    interval: float = 1.0,
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
