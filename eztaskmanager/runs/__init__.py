"""The run lifecycle: a ``Run`` starts, logs, beats, finishes and plans its retry.

This module is the one writer of a report's outcome: a run that ends in its own process
(``Run.execute``), a launch skipped because another run is going, and a run closed from outside
(``close_run``: worker died, stopped, interrupted) all end here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.backends import Backend, BackendError, get_backend
from eztaskmanager.core import arguments, functions, policy
from eztaskmanager.models import FollowUp, LaunchReport, Task
from eztaskmanager.records import launches, taskstate
from eztaskmanager.runs import ending, function_call
from eztaskmanager.runs.dbretry import DATABASE_DOWN, reconnect, until_database_answers
from eztaskmanager.runs.ending import Counters, Outcome
from eztaskmanager.runs.logger import (
    DatabaseLogHandler,
    LogWriter,
    _current_handler,
    run_logger,
)
from eztaskmanager.runs.ticker import TICKER

logger = logging.getLogger(__name__)

REASON_WORKER_DIED = "worker died"
REASON_INTERRUPTED = "interrupted"
REASON_SKIPPED = "skipped: already running"
REASON_HELD = (
    "held: what it runs was changed by %(user)r, who may not launch tasks, before this firing"
)


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def lock_ttl() -> float:
    return conf.get("ORPHAN_AFTER_SECONDS")


# How long a starting run waits for an unreachable Redis (a failover takes a few seconds).
LOCK_PATIENCE_SECONDS = 15.0


def acquire_lock(backend: Backend, task_id: int, token: str) -> bool:
    """Take the task's run lock, waiting out a short Redis outage; an outage longer than
    ``LOCK_PATIENCE_SECONDS`` raises its BackendError."""
    deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
    while True:
        try:
            return backend.acquire_run_lock(task_id, token, lock_ttl())
        except BackendError as exc:
            if not exc.unreachable or time.monotonic() >= deadline:
                raise
            logger.warning("Task %s: run lock not reachable, trying again: %s", task_id, exc)
            time.sleep(0.5)


class Heartbeat:
    """Keeps a run visibly alive until ``stop()``: its beats run on the process's ``TICKER``.

    Given the run's log ``handler`` (made with ``timer=False``), it also writes the log lines
    that waited ``flush_seconds``. No thread of its own: see ``eztaskmanager.runs.ticker``.
    """

    def __init__(self, report_id: int, renew=None, interval: float | None = None, handler=None):
        self.report_id = report_id
        self.renew = renew
        self.interval = interval or conf.get("HEARTBEAT_SECONDS")
        self.handler = handler
        self.tick = self.interval
        if handler is not None and handler.flush_seconds:
            # Four calls a flush period keep a line's wait under 1.25 periods.
            self.tick = min(self.interval, handler.flush_seconds / 4)
        self.due = 0.0
        self._key: int | None = None

    def start(self) -> Heartbeat:
        self.due = time.monotonic() + self.interval
        self._key = TICKER.add(self.tick, self._tick)
        return self

    def stop(self) -> None:
        if self._key is not None:
            TICKER.remove(self._key)
            self._key = None

    def beat(self) -> None:
        try:
            LaunchReport.objects.filter(pk=self.report_id).update(heartbeat_at=timezone.now())
            if self.renew is not None:
                self.renew()
        except DATABASE_DOWN as exc:  # a restart: beat again on a new connection
            logger.warning("Heartbeat of report %s missed: %s", self.report_id, exc)
            reconnect()
        except Exception:  # a missed beat is not a reason to end the run
            logger.exception("Heartbeat of report %s failed", self.report_id)

    def _tick(self) -> None:
        if self.handler is not None:
            self.handler.flush_if_due()
        if time.monotonic() >= self.due:
            self.due = time.monotonic() + self.interval
            self.beat()


class Run:
    """One run of a task in this process, from its report's creation to its outcome."""

    def __init__(self, task: Task, report: LaunchReport, backend: Backend, scheduled: bool):
        self.task = task
        # One-off arguments of this run ("run now with other arguments"), else the task's own.
        self.arguments = report.arguments
        self.report = report
        self.backend = backend
        self.scheduled = scheduled
        self.clock = time.monotonic()
        self.token = str(report.pk)
        self.handler = None
        self.heartbeat = None
        self.stored = False  # the outcome is in the database
        self.outcome = None
        self.function = None  # the call of a @task function (runs.function_call), if it is one

    @classmethod
    def start(
        cls,
        task: Task,
        scheduled: bool,
        attempt: int,
        backend: Backend,
        report_id: int | None = None,
        launch: LaunchReport | None = None,
        **origin,
    ) -> Run | None:
        """Claim the launch's queued report (or create one for a job that brings none) and
        mark the task started, in one commit; None when the launch was already claimed.

        ``launch`` is the queued report as read before (``refusal``). ``origin`` may give the
        run's own ``arguments`` and the report it was ``triggered_by`` (a queued report has
        them already).
        """
        now = timezone.now()
        with transaction.atomic():
            if report_id is not None:
                job_id = backend.current_job_id()
                report = launches.claim(report_id, job_id, worker_label(), now, read=launch)
                if report is None:
                    return None
            else:  # a run in this process, or a job queued before launches were recorded
                report = LaunchReport(
                    task=task,
                    started_at=now,
                    heartbeat_at=now,
                    rq_job_id=backend.current_job_id(),
                    worker=worker_label(),
                    attempt=attempt,
                    max_attempts=task.max_retries + 1,
                    arguments=origin.get("arguments"),
                    triggered_by_id=origin.get("triggered_by"),
                    call_id=origin.get("call_id") or "",
                )
                report.record_launch(task, origin.get("arguments"))
                report.queue = origin.get("queue") or report.queue
                report.save(force_insert=True)
            # Started either way: by this run, or by the one that makes this launch a skip.
            taskstate.started(task.pk)
        if report.task_id == task.pk:
            report.task = task  # the ending's reactions read it (and whether it has follow-ups)
        return cls(task, report, backend, scheduled)

    def lock(self) -> bool:
        """Take the task's run lock (always granted when the task allows overlapping runs)."""
        if self.task.allow_overlap:
            return True
        if self.backend.supports_run_lock:
            return acquire_lock(self.backend, self.task.pk, self.token)
        # Without a lock in the backend, the lock is an unfinished run with a fresh heartbeat.
        fresh = timezone.now() - timedelta(seconds=lock_ttl())
        others = LaunchReport.objects.filter(
            task_id=self.task.pk, invocation_result="", heartbeat_at__gte=fresh
        ).exclude(pk=self.report.pk)
        return not others.exists()

    def execute(self) -> LaunchReport:
        """Run the command and end the run (``ending.end``); return the report."""
        if not self.lock():
            return skip(self.task, self.report, self.backend)
        self.begin_logging()
        reason, timed_out, error = "", False, None
        try:
            self.call()
        except BaseException as exc:  # noqa: BLE001 - a run must never take the worker down
            reason = failure_reason(exc, self.backend)
            timed_out = self.backend.is_timeout(exc)
            if self.function is not None:  # a command's failure has its log and reason
                error = function_call.exception_of(exc)
            self.log.error("Run failed: %s\n%s", reason, traceback.format_exc().rstrip())
            if not isinstance(exc, Exception | SystemExit):
                # KeyboardInterrupt and the like: record the failure, then let it go on.
                self.finish(self.ran(reason, timed_out, error))
                raise
        self.finish(self.ran(reason, timed_out, error))
        if self.function is not None:
            self.function.finished()
        return self.report

    def ran(self, reason: str, timed_out: bool, error) -> Outcome:
        """The outcome of the call; a function's also keeps its return value or exception."""
        if self.function is None:
            return Outcome.ran(reason, timed_out)
        value = self.function.value if not reason else None
        return Outcome.ran(reason, timed_out, value=value, error=error)

    def begin_logging(self) -> None:
        renew = None
        if self.backend.supports_run_lock and not self.task.allow_overlap:

            def renew():
                self.backend.renew_run_lock(self.task.pk, self.token, lock_ttl())

        # The heartbeat also flushes the log, from the process's one helper thread.
        self.handler = DatabaseLogHandler(self.report.pk, timer=False)
        self.heartbeat = Heartbeat(self.report.pk, renew=renew, handler=self.handler).start()
        self.log = run_logger(f"task{self.task.pk}")
        self.log.handlers = [self.handler]
        self.log.setLevel(logging.DEBUG)
        self.context = _current_handler.set(self.handler)
        if self.report.max_attempts > 1:
            self.log.info("Attempt %s of %s", self.report.attempt, self.report.max_attempts)

    def call(self) -> None:
        # The command the launch recorded (the task's, for a report from before 0015).
        name = self.report.command_name or self.task.command.name
        if functions.is_function_name(name):
            self.function = function_call.FunctionCall(self, name)
            self.function()
            return
        stdout = LogWriter(self.log, logging.INFO)
        stderr = LogWriter(self.log, logging.ERROR)
        try:
            call_command(name, *self.argv(), stdout=stdout, stderr=stderr)
        finally:
            stdout.flush()
            stderr.flush()

    def argv(self) -> list[str]:
        return launch_argv(self.report, self.task, self.arguments)

    def finish(self, outcome: Outcome) -> None:
        """End the run with ``outcome``: its last log lines, counters, result, the task's new
        state and the retry decision in one commit, then the reactions (``ending.end``)."""
        _current_handler.reset(self.context)
        self.heartbeat.stop()
        self.outcome = outcome
        self.duration = round(time.monotonic() - self.clock, 6)
        handler = self.handler

        def write_log():
            # The handler writes in a savepoint of its own: if its lines fail to go in, the
            # outcome is stored all the same, and the error raised once it is.
            failure = close_log(handler)
            self.counters = Counters.of(handler)
            return failure, self.counters

        ending.end(
            self.task,
            outcome,
            self.backend,
            report=self.report,
            scheduled=self.scheduled,
            write_log=write_log,
            duration=self.duration,
        )
        self.stored = True

    def store_again(self) -> LaunchReport:
        """End the run with the outcome ``finish`` could not store (the database was lost)."""
        ending.end(
            self.task,
            self.outcome,
            self.backend,
            report=self.report,
            scheduled=self.scheduled,
            counters=Counters.of(self.handler),
            duration=self.duration,
        )
        self.stored = True
        return self.report


def launch_argv(report: LaunchReport, task: Task, one_off: str | None) -> list[str]:
    """The arguments the launch recorded, read by the rule it recorded (for a report from
    before they were recorded: the task's, or the run's own ``one_off``); one-off arguments
    never print help and exit."""
    if not report.is_recorded:
        if one_off is None:
            return task.complete_args
        argv = arguments.tokenize(one_off, task._parser())
    elif report.legacy_arguments:
        argv = arguments.legacy_tokenize(report.run_arguments or "")
    elif not (report.run_arguments or "").strip():
        argv = []
    else:
        argv = arguments.tokenize(report.run_arguments, recorded_parser(report))
    if one_off is not None:
        arguments.refuse_exiting_options(argv)
    return argv


def recorded_parser(report: LaunchReport):
    """The parser of the command ``report`` recorded, or None when it cannot be built."""
    try:
        if report.command_id is not None and report.command.name == report.command_name:
            return report.command.get_parser()
        return arguments.command_parser(report.command_name)
    except Exception:  # the command may be gone from the project
        return None


def recorded_command(report: LaunchReport | None, task: Task):
    """What the policy checks for a run of ``report``: the command row it recorded (still
    naming the same command), else its command name, else (before 0015) the task's command."""
    if report is None or not report.is_recorded:
        return task.command
    if report.command is not None and report.command.name == report.command_name:
        return report.command
    return report.command_name


def close_log(handler: DatabaseLogHandler) -> Exception | None:
    """Close ``handler`` (writing what it holds); return the error instead of raising it."""
    try:
        handler.close()
    except Exception as exc:
        return exc
    return None


OUTCOME_FIELDS = ending.OUTCOME_FIELDS  # the name 0.6 had here


def run_task(
    task_id: int,
    scheduled: bool = False,
    attempt: int = 1,
    report_id: int | None = None,
    arguments: str | None = None,
    triggered_by: int | None = None,
    call_id: str = "",
    queue: str = "",
) -> LaunchReport | None:
    """Run task ``task_id`` here and record it in a LaunchReport; return the report.

    ``arguments`` replaces the task's own for this run only; ``triggered_by`` is the id of the
    report whose end launched this run (a follow-up task).

    Every exception of the command is caught: the report ends ``failed`` with the traceback in
    its log. A task id that no longer exists is logged and ignored (returns None). Unless the
    task allows overlapping runs, a launch while another run of the task is going is skipped,
    leaving a report that says so. ``report_id`` is the launch's queued report, which this
    run claims; a launch already claimed elsewhere or closed is not run (returns None).
    """
    # A connection broken since its last use (a database restart while a resident horse
    # waited) is replaced here, before the run begins, instead of failing the job.
    task, launch = until_database_answers(
        lambda: read_launch(task_id, report_id), "reading the launch to run"
    )
    if task is None:
        logger.warning("Task %s does not exist any more; nothing to run.", task_id)
        return None
    backend = get_backend()
    origin = {"arguments": arguments, "triggered_by": existing_report(triggered_by)}
    if report_id is None:  # a job that brings no report: the call's id and queue, if any
        origin.update(call_id=call_id, queue=queue)
    refused, command = refusal(task, launch, scheduled)
    if refused:  # whatever the database says, only what the policy allows runs
        return refuse(
            task, refused, backend, attempt, scheduled, report_id, command=command, **origin
        )
    run = Run.start(task, scheduled, attempt, backend, report_id=report_id, launch=launch, **origin)
    if run is None:
        return None
    try:
        return run.execute()
    except DATABASE_DOWN:
        if run.stored or run.outcome is None:
            # After the outcome (the reactions log their own failures) or before the run
            # began: never store an outcome twice; the heartbeat reaper closes a lost run.
            logger.exception("Report %s: the database failed", run.report.pk)
            return run.report
        # The database went away as the run ended: its outcome is stored once it is back.
        return until_database_answers(lambda: store_outcome(run), "storing a run's outcome")


def read_launch(task_id: int, report_id: int | None):
    """The task to run and its queued launch's report (None without one), in one query when
    the launch is there; the task (None if it is gone) also says whether it has follow-ups,
    so that a run without any costs no query for them. The launch's command comes with it
    (the policy checks it); the task's own command only without a launch (a recorded launch
    names what it runs)."""
    if report_id is not None:
        follow_ups = FollowUp.objects.filter(task_id=OuterRef("task_id"))
        launch = (
            LaunchReport.objects.select_related("command", "task")
            .annotate(task_has_follow_ups=Exists(follow_ups))
            .filter(pk=report_id, task_id=task_id)
            .first()
        )
        if launch is not None:
            launch.task.has_follow_ups = launch.task_has_follow_ups
            return launch.task, launch
    follow_ups = FollowUp.objects.filter(task_id=OuterRef("pk"))
    task = (
        Task.objects.select_related("command")
        .annotate(has_follow_ups=Exists(follow_ups))
        .filter(pk=task_id)
        .first()
    )
    return task, None


def refusal(task: Task, launch: LaunchReport | None, scheduled: bool):
    """Why the ``launch`` of ``task`` may not run (None when it may) and the command it
    records: the policy refuses that command, or the firing came after the task was held."""
    command = recorded_command(launch, task)
    refused = policy.refusal(command)
    if refused:
        return refused, command
    if scheduled and held_before(task, launch):
        return REASON_HELD % {"user": task.held_by}, None
    return None, command


def held_before(task: Task, launch: LaunchReport | None) -> bool:
    """Whether ``task`` was held when its scheduled firing ``launch`` was recorded: a firing
    left in Redis after the hold (Redis out of reach) runs nothing."""
    if task.held_since is None:
        return False
    return launch is None or task.held_since <= launch.invocation_datetime


def store_outcome(run: Run) -> LaunchReport:
    """End ``run`` with the outcome ``Run.finish`` could not store (the database was lost)."""
    return run.store_again()


def existing_report(report_id: int | None) -> int | None:
    """``report_id`` if that report is still there (old reports are pruned), else None."""
    if report_id is None:
        return None
    return report_id if LaunchReport.objects.filter(pk=report_id).exists() else None


def refuse(
    task: Task,
    reason: str,
    backend: Backend,
    attempt: int,
    scheduled: bool,
    report_id: int | None = None,
    command=None,
    **origin,
):
    """End a launch of ``task`` refused for ``reason``: a failed report, no retry, no run.

    ``command`` is the command the policy refused (row or name), explained in the log. A
    queued launch (``report_id``) is claimed and closed; a job that brings none gets a new
    report. The task's state is brought up to date as after any run (a scheduled task keeps
    its schedule, so every firing says again why it did not run).
    """

    def claim():
        now = timezone.now()
        if report_id is not None:
            return launches.claim(report_id, backend.current_job_id(), worker_label(), now)
        report = LaunchReport(
            task=task,
            started_at=now,
            rq_job_id=backend.current_job_id(),
            worker=worker_label(),
            attempt=attempt,
            max_attempts=attempt,
            arguments=origin.get("arguments"),
            triggered_by_id=origin.get("triggered_by"),
            call_id=origin.get("call_id") or "",
        )
        report.record_launch(task, origin.get("arguments"))
        report.queue = origin.get("queue") or report.queue
        report.save(force_insert=True)
        return report

    detail = policy.explain(command) if command is not None else ""
    outcome = Outcome.refused(reason, detail)
    report = ending.end(task, outcome, backend, claim=claim, scheduled=scheduled)
    if report is not None:
        logger.warning("Task %s: %s", task.pk, reason)
    return report


def run_job(
    task_id: int, scheduled: bool = False, attempt: int = 1, **origin
) -> LaunchReport | int | None:
    """``run_task`` as a queued job's function: in a worker, return only the report's id, or
    raise ``RunFailed`` when the run failed (not stopped), after the run has been closed.

    What a worker's job returns is pickled and stored as the job's result; the report (with its
    task and command) would be pickled for nobody, as every reader takes the run from the
    database. Called in-process (no current job: the immediate backend, a direct call), this
    returns the report itself, as ``run_task`` does.
    """
    backend = get_backend()
    report = run_task(task_id, scheduled=scheduled, attempt=attempt, **origin)
    if report is not None and backend.current_job_id():
        if report.invocation_result == LaunchReport.RESULT_FAILED and not report.stop_requested_by:
            # The queue's own records say so too: the job ends failed, not "Job OK". The run
            # is closed already (report, notifications, retry): this only tells the worker.
            raise RunFailed(f"run {report.pk} of task {task_id} failed: {report.failure_reason}")
        return report.pk
    return report


class RunFailed(Exception):
    """Raised by ``run_job`` in a worker after a run failed, so that its job ends failed."""


def failure_reason(exc: BaseException, backend: Backend) -> str:
    if backend.is_timeout(exc):
        seconds = backend.current_job_timeout()
        return f"timeout after {seconds} s" if seconds else "timeout"
    if isinstance(exc, SystemExit):
        return f"the command exited with status {exc.code}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def skip(task: Task, report: LaunchReport, backend: Backend) -> LaunchReport:
    """End ``report`` as a launch skipped because another run of the task is going: the run
    going keeps the task's lock and state; its reactions are those of a warnings result."""
    ending.end(task, Outcome.skipped(REASON_SKIPPED), backend, report=report)
    logger.info("Task %s: launch skipped, already running", report.task_id)
    return report


# How a run closed from outside ended, by its reason.
ENDINGS = {
    REASON_WORKER_DIED: LaunchReport.ENDING_WORKER_DIED,
    REASON_INTERRUPTED: LaunchReport.ENDING_INTERRUPTED,
}


def close_run(
    report: LaunchReport, reason: str, retry: bool = True, backend=None, react_here: bool = True
) -> bool:
    """End a run that ended outside its own process: failed, with ``reason`` ("worker died",
    "interrupted", "stopped by ..."); a retry follows when ``retry`` and attempts are left.

    Returns False when the run had already ended (nothing done). ``react_here=False`` (a web
    request): the scheduler sends its notifications and launches its follow-ups.
    """
    backend = backend or get_backend()
    kind = ENDINGS.get(reason, LaunchReport.ENDING_STOPPED)
    outcome = Outcome.closed(kind, reason, retry)
    ended = ending.end(report.task, outcome, backend, report=report, react_here=react_here)
    return ended is not None
