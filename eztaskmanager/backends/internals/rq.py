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

The resident horse (``resident_horse = True``, ``WarmTaskWorker``): one long-lived child runs
job after job. rq's own monitor (``monitor_work_horse``: heartbeats, the job's hard timeout,
stops, a dead horse) is kept as it is; only its two ends change:

* ``fork_work_horse(job, queue)`` hands the job to the resident child (forking one first if
  none runs) through a pipe, and sets ``_horse_pid`` to the child's pid while the job runs;
* ``wait_for_horse()`` waits for the child's answer on the other pipe instead of its exit, and
  answers rq's monitor as ``os.wait4`` would: the child's exit status and rusage when it died
  (killed, stopped, ``os._exit``), an exit status of 0 or 1 (``main_work_horse``'s) when it
  reported the job done;
* in the child, each job is rebuilt as rq's ``SpawnWorker`` does (``job_class.fetch``, the
  queue by name, ``Execution.fetch``; ``execution`` is one attribute in rq 2, a dict of them
  in rq 3) and run by ``perform_job(job, queue[, execution])`` (rq 3 added ``execution``),
  after ``setup_work_horse_signals()`` and ``_is_horse`` as in ``main_work_horse``.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import os
import random
import select
import signal
import time
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker
from rq.executions import Execution
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

# rq 3 passes the execution to perform_job; rq 2 keeps it on the worker.
PERFORM_TAKES_EXECUTION = "execution" in inspect.signature(Worker.perform_job).parameters
RESIDENT_STOP_WAIT = 5.0  # seconds an idle resident child gets to exit before SIGKILL


@dataclass
class Resident:
    """The parent's handle on its resident child: pid, the job pipe, the answer pipe."""

    pid: int
    jobs: int
    answers: int
    buffer: bytearray = field(default_factory=bytearray)


class HookedWorker(Worker):
    """rq's forking worker, its internal steps turned into the hooks below."""

    # The longest an idle worker blocks on its queues (None: rq's own choice).
    longest_idle_wait: int | None = None
    # True: one long-lived child runs job after job (see the module's docstring).
    resident_horse: bool = False
    _resident: Resident | None = None

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

    def horse_started(self) -> None:
        """In a new resident child, before its first job."""

    def horse_run_starting(self) -> None:
        """In the resident child, before each job."""

    def horse_run_ended(self, job, elapsed: float) -> bool:
        """In the resident child, after each job: whether the child must be replaced now."""
        return False

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
        if not self.resident_horse:
            self.before_fork()
            super().fork_work_horse(job, queue)
            return
        idle = self._resident
        if idle is not None and self._resident_gone(idle):
            logger.warning("Worker %s: resident horse %s died idle", self.name, idle.pid)
        if self._resident is None:
            self.before_fork()
            self._resident = self._fork_resident()
        resident = self._resident
        message = f"{job.id}\t{queue.name}\t{self.execution.id}\n".encode()
        try:
            os.write(resident.jobs, message)
        except OSError:  # the child died idle: wait_for_horse reports it, the job fails
            pass
        self._horse_pid = resident.pid
        self.procline(f"Handed {job.id} to resident horse {resident.pid} at {time.time()}")

    def wait_for_horse(self):
        if not self.resident_horse:
            return super().wait_for_horse()
        resident = self._resident
        if resident is None:
            return None, None, None
        while True:
            answer = self._answer(resident)
            if answer is not None:
                code, retire = answer
                if retire:
                    self.retire_resident_horse()
                return resident.pid, code << 8, None
            ready, _, _ = select.select([resident.answers], [], [], 0.5)
            if ready:
                data = os.read(resident.answers, 4096)
                if data:
                    resident.buffer.extend(data)
                    continue
                # The pipe closed without an answer: killed, stopped, or it exited.
                return self._reap_resident(resident)
            # Still running (rq's monitor interrupts this wait to beat), or gone while one of
            # its own children still holds the pipe open.
            pid, status, rusage = os.wait4(resident.pid, os.WNOHANG)
            if pid == 0:
                continue
            self._drain(resident)  # an answer written just before it exited
            answer = self._answer(resident)
            self._close_resident(resident)
            if answer is not None:
                return resident.pid, answer[0] << 8, None
            return pid, status or 1 << 8, rusage

    def _drain(self, resident: Resident) -> None:
        os.set_blocking(resident.answers, False)
        try:
            while data := os.read(resident.answers, 4096):
                resident.buffer.extend(data)
        except BlockingIOError:
            pass

    def _resident_gone(self, resident: Resident) -> bool:
        """Whether the idle resident child has exited (then reaped and dropped)."""
        try:
            gone = os.waitpid(resident.pid, os.WNOHANG)[0] != 0
        except ChildProcessError:
            gone = True
        if gone:
            self._close_resident(resident)
        return gone

    def _answer(self, resident: Resident) -> tuple[int, bool] | None:
        line, sep, rest = bytes(resident.buffer).partition(b"\n")
        if not sep:
            return None
        resident.buffer[:] = rest
        code, retire = line.split()
        return int(code), retire == b"1"

    def _reap_resident(self, resident: Resident):
        self._close_resident(resident)
        try:
            pid, status, rusage = os.wait4(resident.pid, 0)
        except ChildProcessError:
            pid, status, rusage = resident.pid, 1 << 8, None
        # A child gone without answering never ran its job to the end, whatever its status.
        return pid, status or 1 << 8, rusage

    def _close_resident(self, resident: Resident) -> None:
        if self._resident is resident:
            self._resident = None
        for fd in (resident.jobs, resident.answers):
            try:
                os.close(fd)
            except OSError:
                pass

    def retire_resident_horse(self) -> None:
        """Let the idle resident child go (it exits on the closed job pipe), SIGKILL if it
        does not within ``RESIDENT_STOP_WAIT`` s."""
        resident = self._resident
        if resident is None:
            return
        self._close_resident(resident)
        deadline = time.monotonic() + RESIDENT_STOP_WAIT
        while time.monotonic() < deadline:
            try:
                if os.waitpid(resident.pid, os.WNOHANG)[0]:
                    return
            except ChildProcessError:
                return
            time.sleep(0.01)
        try:
            os.killpg(resident.pid, signal.SIGKILL)
            os.waitpid(resident.pid, 0)
        except (OSError, ChildProcessError):
            pass

    def teardown(self):
        if self.resident_horse and not self.is_horse:
            self.retire_resident_horse()
        super().teardown()

    # -- in the resident child ------------------------------------------------------------------

    def _fork_resident(self) -> Resident:
        jobs_r, jobs_w = os.pipe()
        answers_r, answers_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(jobs_w)
                os.close(answers_r)
                os.setpgrp()
                self._resident_loop(jobs_r, answers_w)
            finally:
                os._exit(0)
        os.close(jobs_r)
        os.close(answers_w)
        return Resident(pid, jobs_w, answers_r)

    def _resident_loop(self, jobs_fd: int, answers_fd: int) -> None:
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        self.log = logging.getLogger("rq.worker")
        self.horse_started()
        jobs = os.fdopen(jobs_fd, "rb", buffering=0)
        while True:
            line = jobs.readline()
            if not line:
                return  # the worker closed the pipe (retired us) or is gone
            job_id, queue_name, execution_id = line.decode().split()
            started = time.monotonic()
            self._resident_job = None
            try:
                # A context of its own per job: no context variable outlives its run.
                code = contextvars.copy_context().run(
                    self._run_in_resident, job_id, queue_name, execution_id
                )
            except BaseException:  # noqa: BLE001 -- as main_work_horse: any failure is a 1
                code = 1
            retire = True
            try:
                retire = self.horse_run_ended(self._resident_job, time.monotonic() - started)
            finally:
                try:
                    os.write(answers_fd, f"{code} {int(retire)}\n".encode())
                except OSError:
                    return  # the worker is gone
            if retire:
                return

    def _run_in_resident(self, job_id: str, queue_name: str, execution_id: str) -> int:
        os.environ["RQ_JOB_ID"] = job_id
        os.environ["RQ_WORKER_ID"] = self.name
        job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        self._resident_job = job
        queue = next(q for q in self.queues if q.name == queue_name)
        execution = Execution.fetch(execution_id, job.id, connection=self.connection)
        execution._job = job
        if PERFORM_TAKES_EXECUTION:
            self.executions.clear()
        self.execution = execution
        self.horse_run_starting()
        try:
            if PERFORM_TAKES_EXECUTION:
                self.perform_job(job, queue, execution)
            else:
                self.perform_job(job, queue)
        finally:
            if PERFORM_TAKES_EXECUTION:
                self.executions.clear()
            else:
                self.execution = None
        return 0

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
