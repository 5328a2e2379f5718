"""The scheduler process behind ``manage.py taskmanager scheduler``.

It extends rq-scheduler's loop in these ways:

* punctual without polling: it waits for the next due time or a schedule write (a blocking pop
  on a wake-up list) and compares exact (sub-second) due times;
* exactly once: each firing is claimed with one atomic Redis script that also moves the job to
  its next due time, so several schedulers can run side by side and a firing is enqueued once
  (``RQBackend.claim``: the due time read is compared with the stored one as a number, never as
  text);
* no silent misses: a firing that stays due and unclaimed (``EZTASKMANAGER_OVERDUE_FIRING_
  SECONDS``), or whose claims keep losing while nothing moves it, is logged as an ERROR and
  alerted once (``alerts.check_overdue_firings``), with an all-clear when it fires;
* the database decides: a task's next run comes from its schedule in the Task table (calendar
  months, cron, wall-clock time in ``TIME_ZONE``), a job whose task is gone or stopped is dropped,
  and a sync (see ``sync.py``) runs at start and then every ``sync_interval`` seconds;
* dead runs are closed: every heartbeat period it fails the runs whose process stopped beating
  (see ``guard.py``), and alerts for tasks with no successful run for too long (``alerts.py``).
* it outlives a Redis or database outage, or a Sentinel failover: it retries with a capped
  backoff, and a firing claimed just before is enqueued once both are back (see ``outage.py``);
* each firing is recorded as a queued launch (see ``records/launches.py``) and lost launches
  are sent again (see ``sweep.py``); a task whose next run cannot be computed is set aside
  alone; a wiped Redis (its marker key gone) is rebuilt at once.

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

from eztaskmanager import conf
from eztaskmanager.backends import BackendError, Job, task_id_of
from eztaskmanager.backends.rq import META_TASK_ID, RQBackend
from eztaskmanager.models import Task
from eztaskmanager.notifications import alerts, liveness
from eztaskmanager.records import launches, taskstate
from eztaskmanager.runs.guard import reap_orphans
from eztaskmanager.scheduler.outage import OUTAGES, run_through_outages
from eztaskmanager.scheduler.sweep import sweep
from eztaskmanager.scheduler.sync import sync_schedules

logger = logging.getLogger(__name__)

SEEN_EVERY = 5.0  # seconds between two "last seen" stamps of a scheduler
# Claims of one firing lost in a row, its due time unchanged, before it is reported overdue
# (when no other scheduler is alive to explain it).
LOST_CLAIMS = 3


class TaskScheduler(Scheduler):
    """rq-scheduler with exact due times, atomic claims and the Task table as the reference."""

    def __init__(self, *args, sync_interval: float = 60.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_interval = sync_interval
        self._next_sync = self._next_reap = self._next_sweep = 0.0
        self._claimed: list = []  # firings not yet on their queue: task ids, or recorded Jobs
        self.backend = RQBackend(self.queue_name, connection=self.connection)
        self._seen_at = 0.0
        self._overdue = OverdueWatch(self.backend)

    def run(self, burst=False):
        run_through_outages(self, burst=burst)

    def heartbeat(self):
        super().heartbeat()
        now = time.time()
        if now - self._seen_at >= SEEN_EVERY:  # when it was last seen, for status and metrics
            was_missing = self.backend.scheduler_seen(self.key, now)
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
        due = unwrapped(self.backend.due_firings, now)
        for job_id, raw_score in due:
            try:
                job = self._fire_due(job_id, raw_score, now)
            except OUTAGES:
                raise
            except Exception as exc:  # one bad task must not stop the others
                set_aside(self.backend, job_id, exc)
                continue
            if job is not None:
                enqueued.append(job)
        self._overdue.keep({job_id for job_id, _ in due})
        self._overdue.look()  # after the claims: a firing only late is not overdue
        return enqueued

    def _fire_due(self, job_id: str, raw_score: str, now: float):
        """Claim one due job (``raw_score``: its due time as Redis wrote it) and send its run;
        return the job sent, if any."""
        try:
            job = self.job_class.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            self.cancel(job_id)
            return None
        if META_TASK_ID not in job.meta:
            self.enqueue_job(job)  # not ours: rq-scheduler's rules
            return job
        next_due, wanted = self.next_due(job, float(raw_score), now)
        won = unwrapped(self.backend.claim, job_id, raw_score, next_due)
        if not won:
            self._overdue.lost(job_id, float(raw_score), now)
            return None
        self._overdue.won(job_id)
        if won == 2:  # it had been reported overdue: the all-clear
            guarded("All-clear", alerts.firing_fired, job_id, float(raw_score), now)
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
        """Sleep until the next job is due, a schedule is written, or ``longest`` seconds (a
        firing whose claim was lost, its due time unchanged, is tried again after that)."""
        self.backend.wait_for_work(longest, skip=self._overdue.ids())

    def after_outage(self) -> None:
        # Runs could not beat while the database was away: give them a period to show up
        # before taking their silence for death.
        self._next_reap = time.monotonic() + conf.get("ORPHAN_AFTER_SECONDS")

    def during_outage(self) -> None:
        """A pass failed on an outage: no run is reaped until a period after the last failure,
        not even in the first pass that works again (its runs' heartbeats could not be
        written meanwhile)."""
        self.after_outage()

    def reap(self) -> None:
        """Close runs whose process died (their heartbeat stopped)."""
        guarded("Closing dead runs", reap_orphans)
        guarded("Checking for overdue tasks", alerts.check_overdue)

    def sync(self) -> None:
        # The marker first: a wipe during the sync removes it, and the next pass syncs again.
        guarded("Marking Redis", self.backend.set_marker)
        result = guarded("Schedule sync", sync_schedules, self.backend)
        if result is not None and result.changed:
            logger.info("Schedule sync: %s", result)


class OverdueWatch:
    """The firings whose claim this scheduler lost though their due time did not move.

    A lost claim is normal when another scheduler moved the job first. One whose due time did
    not move is a firing that cannot be made: it is reported (``alerts.firing_overdue``, once)
    when it is overdue, or before when its claims were lost ``LOST_CLAIMS`` times in a row with
    no other scheduler alive. Every heartbeat period ``alerts.check_overdue_firings`` also
    looks at the whole schedule, and sends the all-clear of firings that left it.
    """

    def __init__(self, backend: RQBackend):
        self.backend = backend
        self._lost: dict[str, tuple[float, int]] = {}  # job id -> (due time, lost in a row)
        self._next_look = 0.0

    def look(self) -> None:
        """Every heartbeat period, ``alerts.check_overdue_firings``."""
        if time.monotonic() >= self._next_look:
            self._next_look = time.monotonic() + conf.get("HEARTBEAT_SECONDS")
            guarded("Checking for overdue firings", alerts.check_overdue_firings, self.backend)

    def ids(self) -> set[str]:
        return set(self._lost)

    def won(self, job_id: str) -> None:
        self._lost.pop(job_id, None)

    def keep(self, job_ids: set[str]) -> None:
        """Forget the firings no longer due."""
        self._lost = {job_id: lost for job_id, lost in self._lost.items() if job_id in job_ids}

    def lost(self, job_id: str, due: float, now: float) -> None:
        still = unwrapped(self.backend.due_score, job_id)
        if still is None or abs(still - due) > 1e-6:  # moved on: another scheduler won
            self.won(job_id)
            return
        seen, count = self._lost.get(job_id, (due, 0))
        count = count + 1 if seen == due else 1
        self._lost[job_id] = (due, count % LOST_CLAIMS)
        late_after = conf.get("OVERDUE_FIRING_SECONDS")
        if late_after and now - due >= late_after:
            reason = "its claim lost"
        elif count >= LOST_CLAIMS and unwrapped(self.backend.schedulers_alive) <= 1:
            reason = f"{LOST_CLAIMS} claims lost in a row, its due time unchanged"
        else:
            return
        if unwrapped(self.backend.mark_overdue, job_id, due):
            guarded("Overdue alert", alerts.firing_overdue, job_id, due, now, reason)


def set_aside(backend: RQBackend, job_id: str, exc: Exception) -> None:
    """Take the job of a task whose run cannot be computed or sent out of the schedule."""
    logger.exception("Scheduled job %s set aside: %s", job_id, exc)
    backend.set_aside(job_id)
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


def record_firing(task_id: int, backend: RQBackend) -> Job | None:
    """Record a claimed firing of task ``task_id`` as a queued launch; return its job."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        return None
    job, _ = launches.prepare(task, backend.new_job_id(task.pk), scheduled=True)
    return job


def unwrapped(func, *args):
    """``func(*args)`` of the backend; an unreachable Redis is raised as Redis's own error (an
    outage, which the loop waits out)."""
    try:
        return func(*args)
    except BackendError as exc:
        if exc.unreachable and exc.__cause__ is not None:
            raise exc.__cause__ from None
        raise


def send(backend: RQBackend, job: Job):
    """Enqueue ``job``; an unreachable Redis is raised as Redis's own error (an outage)."""
    return unwrapped(backend.enqueue, job)


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
