"""rq's ``Worker`` methods that ``TaskWorker`` (``eztaskmanager/worker.py``) builds on.

Why internals: rq documents how to pick a worker class (``--worker-class``), and one hook,
``work_horse_killed_handler`` (used by ``TaskWorker`` directly), but not which of its methods a
subclass may override, nor what they are called with. ``HookedWorker`` is the only place that
names them; it turns them into hooks of our own, and ``tests/test_internals.py`` checks each
name and signature against the installed rq:

* the steps of rq's loop that talk to Redis (``OUTLIVED_STEPS``): its loop ends at a Redis error
  raised outside its dequeue; wrapped here, such a step logs and misses its turn instead;
* ``fork_work_horse(job, queue)``: the last moment in the worker before a horse is forked;
* ``heartbeat(...)``: the worker's own beat, also sent while it waits for jobs;
* ``handle_warm_shutdown_request()``: rq has handled a first SIGTERM;
* ``request_force_stop(signum, frame)``: the cold shutdown, which takes the horse down and
  raises SystemExit;
* ``horse_pid`` and ``kill_horse()``: whether a horse runs, and stopping it;
* ``dequeue_timeout``: how long an idle worker blocks on its queues;
* ``handle_job_failure(job, queue, ...)`` and ``_stopped_job_id``: rq files a job stopped on
  request (``send_stop_job_command``) in the queue's failed registry, as a failure; the id of
  the job the worker was asked to stop, read before rq clears it, tells a stop from a failure.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.job import JobStatus

logger = logging.getLogger("eztaskmanager.worker")

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# Steps of rq's loop that only miss their turn when Redis is away (heartbeat too, below).
OUTLIVED_STEPS = (
    "check_for_suspension",
    "run_maintenance_tasks",
    "set_state",
    "maintain_heartbeats",
    "execute_job",
)


class HookedWorker(Worker):
    """rq's forking worker, its internal steps turned into the hooks below."""

    # The longest an idle worker blocks on its queues (None: rq's own choice).
    longest_idle_wait: int | None = None

    # -- hooks, for subclasses ------------------------------------------------------------------

    def before_fork(self) -> None:
        """Just before a work horse is forked, in the worker."""

    def after_heartbeat(self) -> None:
        """After each heartbeat of the worker (sent whether or not Redis answered)."""

    def warm_shutdown_requested(self) -> None:
        """A first SIGTERM: rq lets the current run finish, then stops."""

    def cold_shutdown_requested(self) -> None:
        """A second SIGTERM (or SIGINT): rq is about to take the horse down."""

    def horse_taken_down(self, job_id: str | None) -> None:
        """The cold shutdown took down the horse that ran ``job_id``; SystemExit follows."""

    def step_skipped(self, step: str, exc: Exception) -> None:
        """A step of the loop missed its turn: Redis could not be reached."""
        logger.warning("Worker %s: %s skipped, Redis unreachable: %s", self.name, step, exc)
        time.sleep(0.5)  # do not spin while Redis is away

    # -- what the hooks offer -------------------------------------------------------------------

    @property
    def has_horse(self) -> bool:
        """Whether a work horse is running a job now."""
        return bool(self.horse_pid)

    def stop_horse(self) -> None:
        """Kill the running work horse (rq's own way: its whole process group)."""
        self.kill_horse()

    # -- rq's internals -------------------------------------------------------------------------

    def _outliving(self, step, *args, **kwargs):
        try:
            return step(*args, **kwargs)
        except REDIS_DOWN as exc:
            self.step_skipped(step.__name__, exc)
            return None

    def check_for_suspension(self, *args, **kwargs):
        return self._outliving(super().check_for_suspension, *args, **kwargs)

    def run_maintenance_tasks(self, *args, **kwargs):
        return self._outliving(super().run_maintenance_tasks, *args, **kwargs)

    def set_state(self, *args, **kwargs):
        return self._outliving(super().set_state, *args, **kwargs)

    def maintain_heartbeats(self, *args, **kwargs):
        return self._outliving(super().maintain_heartbeats, *args, **kwargs)

    def execute_job(self, *args, **kwargs):
        return self._outliving(super().execute_job, *args, **kwargs)

    def heartbeat(self, *args, **kwargs):
        result = self._outliving(super().heartbeat, *args, **kwargs)
        self.after_heartbeat()
        return result

    def handle_job_failure(self, job, queue, *args, **kwargs):
        stopped = job is not None and getattr(self, "_stopped_job_id", None) == job.id
        result = super().handle_job_failure(job, queue, *args, **kwargs)
        if stopped:
            self._outliving(self._not_a_failure, job, queue)
        return result

    def _not_a_failure(self, job, queue) -> None:
        """A job stopped on request is no RQ failure: out of the failed registry, "stopped"."""
        queue.failed_job_registry.remove(job)
        job.set_status(JobStatus.STOPPED)

    def fork_work_horse(self, job, queue):
        self.before_fork()
        super().fork_work_horse(job, queue)

    def handle_warm_shutdown_request(self):
        super().handle_warm_shutdown_request()
        self.warm_shutdown_requested()

    def request_force_stop(self, signum, frame):
        job_id = self.get_current_job_id()
        self.cold_shutdown_requested()
        try:
            super().request_force_stop(signum, frame)
        except SystemExit:
            self.horse_taken_down(job_id)
            raise

    @property
    def dequeue_timeout(self) -> int:
        timeout = super().dequeue_timeout
        return timeout if self.longest_idle_wait is None else min(timeout, self.longest_idle_wait)
