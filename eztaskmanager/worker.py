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
  (``eztaskmanager.warmup``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time

from rq import Worker

# Imported here, in the worker, not in each job's work horse nor inside a signal handler (an
# import interrupted by a signal leaves a half-initialised module behind).
from eztaskmanager import (
    conf,
    liveness,
    runs,  # noqa: F401
)
from eztaskmanager.services import guard
from eztaskmanager.services.guard import REASON_INTERRUPTED, REASON_WORKER_DIED
from eztaskmanager.services.outage import REDIS_DOWN
from eztaskmanager.warmup import Warmer

logger = logging.getLogger(__name__)


def close_runs_of_job(job_id: str | None, reason: str) -> None:
    """Close the unfinished reports of job ``job_id`` with ``reason``."""
    guard.close_runs_of_job(job_id, reason, retry=reason == REASON_WORKER_DIED)


def outliving_redis(step):
    """``step`` of the worker loop, logging a Redis outage instead of raising it."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        try:
            return step(self, *args, **kwargs)
        except REDIS_DOWN as exc:
            logger.warning(
                "Worker %s: %s skipped, Redis unreachable: %s", self.name, step.__name__, exc
            )
            time.sleep(0.5)  # do not spin while Redis is away
            return None

    return wrapper


class TaskWorker(Worker):
    """An RQ worker that never leaves a run of ours without a result."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._interrupting = False
        self._grace_timer: threading.Timer | None = None
        self.warmer = Warmer()
        self._watching = (os.getpid(), time.time())
        self._next_watch = 0.0

    def fork_work_horse(self, job, queue):
        # What every run would do in its fresh horse, done once here (eztaskmanager.warmup).
        self.warmer.before_fork()
        super().fork_work_horse(job, queue)

    # rq's loop quits on a Redis error outside its dequeue; these steps miss their turn instead,
    # and the next dequeue waits for Redis (a run in a horse goes on: its report is in the
    # database, or closed by the heartbeat check).
    check_for_suspension = outliving_redis(Worker.check_for_suspension)
    run_maintenance_tasks = outliving_redis(Worker.run_maintenance_tasks)
    _heartbeat = outliving_redis(Worker.heartbeat)
    set_state = outliving_redis(Worker.set_state)
    maintain_heartbeats = outliving_redis(Worker.maintain_heartbeats)
    execute_job = outliving_redis(Worker.execute_job)

    def heartbeat(self, *args, **kwargs):
        result = self._heartbeat(*args, **kwargs)
        self.watch_scheduler()
        return result

    @property
    def dequeue_timeout(self) -> int:
        # An idle worker beats (and looks for the scheduler) at least once a minute.
        return min(super().dequeue_timeout, 60)

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

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        close_runs_of_job(job.id, REASON_INTERRUPTED if self._interrupting else REASON_WORKER_DIED)

    def handle_warm_shutdown_request(self):
        super().handle_warm_shutdown_request()
        grace = conf.get("SHUTDOWN_GRACE_SECONDS")
        if grace is not None and self.horse_pid:
            self._grace_timer = threading.Timer(grace, self._interrupt_current_run)
            self._grace_timer.daemon = True
            self._grace_timer.start()

    def _interrupt_current_run(self) -> None:
        if self.horse_pid:
            logger.warning("Worker %s: grace period over, interrupting the current run", self.name)
            self._interrupting = True
            self.kill_horse()

    def request_force_stop(self, signum, frame):
        job_id = self.get_current_job_id()
        self._interrupting = True
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:  # the horse was taken down: its run ends here
            close_runs_of_job(job_id, REASON_INTERRUPTED)
            raise
