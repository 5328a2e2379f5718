"""The one ending of a run: an ``Outcome``, stored in one commit, then its reactions in order.

Every way a run ends builds an ``Outcome`` and calls ``end``: the command finished or failed in
its work horse (``runs.Run.finish``), its launch was refused by the policy (``runs.refuse``) or
skipped because another run of the task is going (``runs.skip``), it was stopped, its worker
died or was interrupted (``runs.close_run``), or its outcome waited for the database to come
back (``runs.store_outcome``). ``end`` then:

1. reads the task's next schedule state from the backend (before any transaction: no Redis call
   holds a database transaction open);
2. in one transaction: claims the run's end (a conditional update: of two closers, one wins),
   stores the result, the reason, the ending, the counters, the retry decision (with the
   retry's queued launch, so a retry is never lost), the run's last lines in one write, the
   task's last-run cache and schedule state, and prunes the task's old reports;
3. after the commit, in this order, each step isolated from the failures of the others:
   releases the run lock, corrects the periodic job's due time, sends the notifications, sends
   the retry's job, and tells the receivers of ``signals.run_finished`` (follow-ups, missed-run
   alerts).

A run ended in a web request (a stop from the admin) stores ``reactions_pending`` instead of
doing step 3's notifications, retry and ``run_finished``: the scheduler's next pass does them
(``react_pending``), so a stop returns at once and never launches follow-ups in the request.

Follow-ups react to the last word of a launch: a failed run whose retry was planned fires none
(its last attempt decides); a stopped run plans no retry, so it fires the follow-ups of its
result ("failed"), with or without retries; a skipped launch fires none (the run it overlapped
fires its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.backends import Backend, BackendError, job_id_for
from eztaskmanager.core import functions
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.notifications import emit_notifications
from eztaskmanager.records import launches, taskstate
from eztaskmanager.signals import run_finished

logger = logging.getLogger(__name__)

# The report's columns an ending writes (the warm-up compiles their UPDATE).
OUTCOME_FIELDS = [
    "invocation_result",
    "failure_reason",
    "finished_at",
    "duration",
    "ending",
    "retry_planned",
    "reactions_pending",
    "n_lines",
    "n_errors",
    "n_warnings",
    "n_dropped",
]

# A line to write with the outcome: (level, message, whether it counts as an error/warning).
Line = tuple[str, str, bool]


@dataclass(frozen=True)
class Outcome:
    """How a run ended: what ``end`` stores and what follows it.

    ``result`` empty means "derived from the levels the run logged"; ``retry`` says whether a
    failure may be retried when attempts are left (a refusal or a stop may not); ``lines`` are
    the run's last lines, written with the outcome.
    """

    ending: str
    result: str = ""
    reason: str = ""
    lines: tuple[Line, ...] = ()
    retry: bool = False
    # A @task function's call: what it returned (JSON text), or the exception it raised as
    # ``(class path, traceback)``.
    value: object = None
    error: tuple[str, str] | None = None

    @classmethod
    def ran(cls, reason: str = "", timed_out: bool = False, value=None, error=None) -> Outcome:
        """The command returned (no ``reason``) or raised (``reason`` says what)."""
        if not reason:
            return cls(LaunchReport.ENDING_FINISHED, retry=True, value=value)
        ending = LaunchReport.ENDING_TIMED_OUT if timed_out else LaunchReport.ENDING_FAILED
        return cls(ending, LaunchReport.RESULT_FAILED, reason, retry=True, error=error)

    @classmethod
    def refused(cls, reason: str, detail: str = "") -> Outcome:
        line = ("ERROR", f"Not run: {reason}. {detail or ''}".strip(), True)
        return cls(LaunchReport.ENDING_REFUSED, LaunchReport.RESULT_FAILED, reason, (line,))

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        line = ("WARNING", f"Not run: {reason}.", True)
        return cls(LaunchReport.ENDING_SKIPPED, LaunchReport.RESULT_WARNINGS, reason, (line,))

    @classmethod
    def closed(cls, ending: str, reason: str, retry: bool) -> Outcome:
        """A run ended outside its own process (stopped, worker died, interrupted)."""
        line = ("ERROR", f"Run ended: {reason}.", False)
        return cls(ending, LaunchReport.RESULT_FAILED, reason, (line,), retry)

    @property
    def ran_its_course(self) -> bool:
        """Whether the run held its task (its lock, its state): all but a skipped launch."""
        return self.ending != LaunchReport.ENDING_SKIPPED


@dataclass(frozen=True)
class Counters:
    """What the run's own log handler counted (a run ended in its process)."""

    n_lines: int
    n_errors: int
    n_warnings: int
    n_dropped: int

    @classmethod
    def of(cls, handler) -> Counters:
        return cls(handler.n_lines, handler.n_errors, handler.n_warnings, handler.n_dropped)


@dataclass
class Retry:
    """A retry decided with the outcome: its queued launch, sent after the commit."""

    job: object
    report: LaunchReport
    delay: float


def end(
    task: Task,
    outcome: Outcome,
    backend: Backend,
    *,
    report: LaunchReport | None = None,
    claim: Callable[[], LaunchReport | None] | None = None,
    scheduled: bool = False,
    counters: Counters | None = None,
    write_log: Callable[[], tuple[Exception | None, Counters]] | None = None,
    duration: float | None = None,
    react_here: bool = True,
) -> LaunchReport | None:
    """Store ``outcome`` as the end of a run of ``task``, then react to it; return the report,
    or None when the run had already ended (or its launch was claimed elsewhere).

    The run's report is ``report``, or what ``claim()`` returns inside the transaction (a
    refused launch claims its queued report or creates one). ``write_log`` writes the lines
    the run's own handler still holds, inside the transaction, and gives the handler's error
    (raised once the outcome is stored) and ``counters``. ``react_here=False``: a web request;
    the scheduler reacts instead.
    """
    state = taskstate.after_run(task, scheduled, backend) if outcome.ran_its_course else None
    react_here = react_here or backend.runs_in_process  # no scheduler to do it later
    log_failure = None
    with transaction.atomic():
        if claim is not None:
            report = claim()
            if report is None:
                return None
        if write_log is not None:
            log_failure, counters = write_log()
        retry = store(report, task, outcome, counters, duration, react_here)
        if retry is False:
            return None
        if state is not None:
            taskstate.run_ended(task, report, scheduled, state)
        task.prune_reports(reports_kept(report))
    react(report, task, outcome, backend, state, retry, react_here)
    if log_failure is not None:
        raise log_failure
    return report


def reports_kept(report: LaunchReport) -> int:
    """How many reports the task of ``report`` keeps (0: all): ``N_REPORTS_INLINE``, or for a
    ``@task`` function's call, whose result is read from its reports, ``N_CALL_RESULTS``."""
    kept = conf.get("N_REPORTS_INLINE")
    if not kept or not functions.is_function_name(report.command_name or ""):
        return kept
    calls = conf.get("N_CALL_RESULTS")
    return max(kept, calls) if calls else 0


def store(report, task, outcome, counters, duration, react_here) -> Retry | None | bool:
    """Write the outcome on ``report`` (in the caller's transaction); False when another closer
    ended the run first, else the retry planned (or None)."""
    now = timezone.now()
    if counters is not None:
        report.n_errors, report.n_warnings = counters.n_errors, counters.n_warnings
    result = outcome.result or report.derive_result()
    if duration is None and report.started_at is not None:
        duration = max((now - report.started_at).total_seconds(), 0.0)
    will_retry = (
        outcome.retry
        and result == LaunchReport.RESULT_FAILED
        and report.attempt < report.max_attempts
    )
    values = {
        "invocation_result": result,
        "failure_reason": outcome.reason,
        "finished_at": now,
        "duration": duration,
        "ending": outcome.ending,
        "retry_planned": will_retry if result == LaunchReport.RESULT_FAILED else None,
        "reactions_pending": not react_here,
    }
    if outcome.ending in (LaunchReport.ENDING_REFUSED, LaunchReport.ENDING_SKIPPED):
        values["duration"] = 0.0
    if outcome.ending == LaunchReport.ENDING_REFUSED:
        values["max_attempts"] = report.attempt  # a refusal is its launch's last attempt
    if counters is not None:
        values["n_dropped"] = counters.n_dropped
    if outcome.value is not None:
        values["return_value"] = outcome.value
    if outcome.error is not None:
        values["exception_class"], values["exception_traceback"] = outcome.error
    lines = list(outcome.lines)
    if will_retry:
        delay = report.retry_delay(report.attempt, task)
        planned = f"Attempt {report.attempt + 1} of {report.max_attempts} planned in {delay} s."
        lines.append(("INFO", planned, False))
    # The last lines count in the same UPDATE: from the handler's figures, or on the stored ones.
    for name, n in LaunchReport.line_counts(lines).items():
        values[name] = (getattr(counters, name) if counters is not None else F(name)) + n
    # The conditional update is the claim of the end: of two closers, one ends the run.
    if not LaunchReport.objects.filter(pk=report.pk, invocation_result="").update(**values):
        logger.info("Report %s had already ended; %s not stored.", report.pk, outcome.ending)
        return False
    for name, value in values.items():
        if not hasattr(value, "resolve_expression"):
            setattr(report, name, value)
    if counters is None:
        report.refresh_from_db(fields=["n_lines", "n_errors", "n_warnings"])
    report.insert_lines(lines)  # the UPDATE above holds the row
    return prepare_retry(task, report, delay) if will_retry else None


def prepare_retry(task: Task, report: LaunchReport, delay: float) -> Retry:
    """Record the next attempt of failed ``report`` as a queued launch running what the first
    attempt ran (sent after the commit; one whose send fails is sent by the sweep)."""
    attempt = report.attempt + 1
    job, queued = launches.prepare(
        task,
        job_id_for(task.pk, retry=True),
        attempt=attempt,
        retry_of=report,
        **origin_of(report),
    )
    job = replace(job, description=f"{job.description} (attempt {attempt})")
    return Retry(job, queued, delay)


def origin_of(report: LaunchReport) -> dict:
    """The job keyword arguments that give a retry the same arguments and origin as ``report``."""
    origin = {}
    if report.arguments is not None:
        origin["arguments"] = report.arguments
    if report.triggered_by_id is not None:
        origin["triggered_by"] = report.triggered_by_id
    return origin


def react(report, task, outcome, backend, state, retry, react_here: bool) -> None:
    """After the commit, in order, each step isolated from the others' failures."""
    steps = []
    if outcome.ran_its_course:
        steps.append(("run lock", lambda: release_lock(task, report, backend)))
    if state is not None:
        steps.append(("next run", lambda: taskstate.fix_due_time(task, state, backend)))
    run_steps(report, steps)
    if react_here:
        reactions(report, backend, retry)


def reactions(report: LaunchReport, backend: Backend, retry: Retry | None = None) -> None:
    """Notifications, the retry's send and ``run_finished``; the notes they leave for the
    report's log (handlers that failed, follow-ups launched) are written in one batch after."""
    notes: list[Line] = []
    steps = [("notifications", lambda: emit_notifications(report, notes=notes))]
    if retry is not None:
        steps.append(("retry", lambda: send_retry(report, retry, backend, notes)))
    steps.append(("run_finished", lambda: tell_receivers(report, notes)))
    run_steps(report, steps)
    try:
        report.append_lines(notes)
    except Exception:  # noqa: BLE001 - the notes are in the process log too
        logger.exception("Report %s: the notes after its end could not be written", report.pk)


def run_steps(report: LaunchReport, steps) -> None:
    for name, step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - one reaction's failure stops none of the others
            logger.exception("Report %s: %s failed after the run's end", report.pk, name)


def release_lock(task: Task, report: LaunchReport, backend: Backend) -> None:
    if task.allow_overlap or not backend.supports_run_lock:
        return
    try:
        backend.release_run_lock(task.pk, str(report.pk))
    except BackendError as exc:  # the lock expires by itself
        logger.warning("Run lock of task %s not released: %s", task.pk, exc)


def send_retry(report: LaunchReport, retry: Retry, backend: Backend, notes: list) -> None:
    """Send the retry's job: at once, or at its time when the backend can schedule."""
    try:
        if retry.delay <= 0 or not backend.supports_schedule:
            # In-process there is no one to wait for: the retry runs at once.
            backend.enqueue(retry.job)
        else:
            backend.schedule_at(retry.job, timezone.now() + timedelta(seconds=retry.delay))
    except BackendError as exc:  # recorded as queued: the scheduler's sweep sends it
        logger.warning("Report %s: retry %s not sent yet: %s", report.pk, retry.report.pk, exc)
        notes.append(
            (
                "WARNING",
                f"Attempt {retry.report.attempt} not sent yet ({exc}); the scheduler sends it.",
                False,
            )
        )


def tell_receivers(report: LaunchReport, notes: list | None = None) -> None:
    """Tell the receivers of ``run_finished`` (follow-ups, alerts); their failures are logged.
    A receiver may add lines for the report's log to ``notes``."""
    responses = run_finished.send_robust(sender=Task, report=report, notes=notes)
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "Report %s: %s failed: %s",
                report.pk,
                getattr(receiver, "__name__", receiver),
                response,
            )


def react_pending(backend: Backend) -> list[int]:
    """The reactions of runs ended in a web request (notifications, follow-ups, alerts), done
    by the scheduler's pass; each report is claimed first, so it reacts once. A retry that such
    a run planned is a queued launch, sent by the sweep."""
    done = []
    pending = LaunchReport.objects.select_related("task").filter(reactions_pending=True)
    for report in pending.order_by("pk")[:500]:
        claimed = LaunchReport.objects.filter(pk=report.pk, reactions_pending=True)
        if not claimed.update(reactions_pending=False):
            continue
        report.reactions_pending = False
        reactions(report, backend)
        done.append(report.pk)
    return done
