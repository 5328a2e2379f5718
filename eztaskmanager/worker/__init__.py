"""``TaskWorker``: an RQ worker that closes a run the moment its work horse goes away.

Use it with ``manage.py rqworker --worker-class eztaskmanager.worker.TaskWorker`` or django-rq's
``RQ = {"WORKER_CLASS": "eztaskmanager.worker.TaskWorker"}``. Any RQ worker runs tasks; this one
also:

* closes the report as failed, "worker died", when the horse dies unexpectedly (killed, out of
  memory) instead of waiting for the heartbeat check;
* on a warm shutdown (SIGTERM), lets the current run finish for up to
  ``EZTASKMANAGER_SHUTDOWN_GRACE_SECONDS``, then stops it and closes it as "interrupted";
* on a cold shutdown (a second SIGTERM / SIGINT), closes the run it takes down as "interrupted";
* before it forks a work horse, warms itself once (imports the tasks' commands, primes the ORM)
  and freezes the garbage collector, so that each horse starts its run warm
  (``eztaskmanager.worker.warmup``).

``WarmTaskWorker`` (opt-in, ``--worker-class eztaskmanager.worker.WarmTaskWorker``) keeps one
work horse for run after run instead of forking one per run; what it resets between runs and
when it replaces the horse is in ``eztaskmanager.worker.horse``.
"""

from __future__ import annotations

import logging
import os
import threading
import time

# Imported here, in the worker, not in each job's work horse nor inside a signal handler (an
# import interrupted by a signal leaves a half-initialised module behind).
from eztaskmanager import conf, runs  # noqa: F401
from eztaskmanager.backends.internals.rq import HookedWorker
from eztaskmanager.notifications import liveness
from eztaskmanager.runs import REASON_INTERRUPTED, REASON_WORKER_DIED, guard
from eztaskmanager.worker.horse import HorseKeeper
from eztaskmanager.worker.warmup import Warmer

logger = logging.getLogger(__name__)


def close_runs_of_job(job_id: str | None, reason: str) -> None:
    """Close the unfinished reports of job ``job_id`` with ``reason``."""
    guard.close_runs_of_job(job_id, reason, retry=reason == REASON_WORKER_DIED)


class TaskWorker(HookedWorker):
    """An RQ worker that never leaves a run of ours without a result.

    The rq internals it builds on are named in ``HookedWorker``
    (``eztaskmanager.backends.internals.rq``) only; here are its hooks. rq's loop steps that
    talk to Redis miss their turn while Redis is away instead of ending the worker (a run in a
    horse goes on: its report is in the database, or closed by the heartbeat check).
    """

    # An idle worker beats (and looks for the scheduler) at least once a minute.
    longest_idle_wait = 60

    def __init__(self, *args, work_horse_killed_handler=None, **kwargs):
        # rq's public hook for a horse that died (killed, out of memory); one given by the
        # project still runs first.
        def horse_killed(job, retpid, ret_val, rusage):
            if work_horse_killed_handler is not None:
                work_horse_killed_handler(job, retpid, ret_val, rusage)
            reason = REASON_INTERRUPTED if self._interrupting else REASON_WORKER_DIED
            close_runs_of_job(job.id, reason)

        super().__init__(*args, work_horse_killed_handler=horse_killed, **kwargs)
        self._interrupting = False
        self._grace_timer: threading.Timer | None = None
        self.warmer = Warmer()
        self._watching = (os.getpid(), time.time())
        self._next_watch = 0.0

    def before_fork(self) -> None:
        # What every run would do in its fresh horse, done once here (eztaskmanager.worker.warmup).
        self.warmer.before_fork()

    def after_heartbeat(self) -> None:
        self.watch_scheduler()

    def watch_scheduler(self) -> None:
        """Every ``liveness.CHECK_EVERY`` s, in the worker itself (not a horse): warn the
        notification handlers once when no scheduler has been seen for too long."""
        pid, since = self._watching
        if os.getpid() != pid or time.monotonic() < self._next_watch:
            return
        self._next_watch = time.monotonic() + liveness.CHECK_EVERY
        try:
            liveness.check_scheduler(self.connection, since)
        except Exception:  # watching must never stop the worker
            logger.exception("Worker %s: looking for a scheduler failed", self.name)

    def warm_shutdown_requested(self) -> None:
        grace = conf.get("SHUTDOWN_GRACE_SECONDS")
        if grace is not None and self.has_horse:
            self._grace_timer = threading.Timer(grace, self._interrupt_current_run)
            self._grace_timer.daemon = True
            self._grace_timer.start()

    def _interrupt_current_run(self) -> None:
        if self.has_horse:
            logger.warning("Worker %s: grace period over, interrupting the current run", self.name)
            self._interrupting = True
            self.stop_horse()

    def cold_shutdown_requested(self) -> None:
        self._interrupting = True

    def horse_taken_down(self, job_id: str | None) -> None:
        close_runs_of_job(job_id, REASON_INTERRUPTED)


class WarmTaskWorker(TaskWorker):
    """A ``TaskWorker`` whose work horse stays: one child process runs one job after another.

    The worker hands each job to the resident horse and watches it as it watches a forked one
    (heartbeat, job timeout, stop, death); it forks a new horse when the horse died, was
    stopped, or retired (``eztaskmanager.worker.horse``: a run that reached its timeout or left
    a transaction open, ``EZTASKMANAGER_HORSE_MAX_RUNS`` runs, past
    ``EZTASKMANAGER_HORSE_MAX_MEMORY_MB``).
    """

    resident_horse = True

    def horse_started(self) -> None:
        self.keeper = HorseKeeper()

    def horse_run_starting(self) -> None:
        self.keeper.before_run()

    def horse_run_ended(self, job, elapsed: float) -> bool:
        timeout = getattr(job, "timeout", None)
        why = self.keeper.after_run(timeout if isinstance(timeout, int | float) else None, elapsed)
        if why:
            logger.info("Worker %s: work horse %s retires: %s", self.name, os.getpid(), why)
        return why is not None
