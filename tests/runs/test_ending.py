"""Every way a run ends goes through ``ending.end`` and passes the same checks.

Each test ends a run one way and then ``check_ending`` asserts: the outcome, the ending, the
counters (equal to the lines stored, numbered without gaps), the retry decision (and the
retry's queued launch) and the task's state were stored; the reactions ran after the commit
(never inside a transaction), notifications before ``run_finished``, once each. Runs here
commit for real (``transaction=True``) on an RQ backend over fakeredis. Timeouts and a
database lost mid-run need a real worker and a real restart: see
``tests/integration/test_reliability.py`` and ``tests/integration/test_database_restart.py``.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eztaskmanager import operations
from eztaskmanager.backends import get_backend
from eztaskmanager.models import FollowUp, LaunchReport, Task
from eztaskmanager.notifications import NotificationHandler
from eztaskmanager.runs import REASON_INTERRUPTED, REASON_WORKER_DIED, close_run, run_task
from eztaskmanager.scheduler.sweep import sweep
from eztaskmanager.signals import run_finished
from tests.admin.test_admin import fake_queue  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS: list[tuple] = []


def seen(what: str, report) -> None:
    stored = LaunchReport.objects.get(pk=report.pk)
    EVENTS.append((what, report.pk, connection.in_atomic_block, stored.invocation_result))


class RecordingHandler(NotificationHandler):
    """A notification handler that notes when it was called and what it saw stored."""

    def emit(self, report) -> None:
        seen("notified", report)


def note_run_finished(sender, report, **kwargs):
    seen("run_finished", report)


@pytest.fixture(autouse=True)
def watched(fake_queue):  # noqa: F811
    EVENTS.clear()
    handlers = {"watch": {"class": f"{__name__}.RecordingHandler", "level": "ok"}}
    run_finished.connect(note_run_finished, dispatch_uid="tests.runs.test_ending")
    try:
        with override_settings(EZTASKMANAGER_NOTIFICATION_HANDLERS=handlers):
            yield get_backend()
    finally:
        run_finished.disconnect(dispatch_uid="tests.runs.test_ending")


def check_ending(report_id: int, ending: str, result: str, retry: bool = False) -> LaunchReport:
    report = LaunchReport.objects.get(pk=report_id)
    assert (report.ending, report.invocation_result) == (ending, result)
    assert report.finished_at is not None and report.duration is not None
    assert not report.reactions_pending
    numbers = list(report.logs.order_by("lineno").values_list("lineno", flat=True))
    assert numbers == list(range(1, report.n_lines + 1))  # counted = stored, no gap
    errors = report.logs.filter(level="ERROR").count()
    assert report.n_errors <= errors  # notes (not counted) may add ERROR lines
    if result == LaunchReport.RESULT_FAILED:
        assert report.retry_planned is retry
    retries = LaunchReport.objects.filter(task=report.task, attempt=report.attempt + 1)
    assert retries.exists() is retry
    if retry:
        [queued] = retries
        assert queued.is_queued and queued.command_name == report.command_name
    task = Task.objects.get(pk=report.task_id)
    if ending != LaunchReport.ENDING_SKIPPED:
        assert task.cached_last_invocation_result == result
        assert task.status in (Task.STATUS_IDLE, Task.STATUS_SCHEDULED)
    # After the commit, in order, once each.
    assert EVENTS == [
        ("notified", report.pk, False, result),
        ("run_finished", report.pk, False, result),
    ]
    return report


def started(task, **fields) -> LaunchReport:
    """A run of ``task`` started elsewhere, its launch recorded as ``launches.prepare`` does."""
    now = timezone.now()
    report = LaunchReport(task=task, started_at=now, heartbeat_at=now, **fields)
    report.record_launch(task, None)
    report.save(force_insert=True)
    return report


def test_finished(make_task, watched):
    task = make_task("eztm_lines", "2, --level warning")
    report = run_task(task.pk)
    checked = check_ending(report.pk, LaunchReport.ENDING_FINISHED, "warnings")
    assert checked.n_warnings == 2
    assert watched.acquire_run_lock(task.pk, "probe", 10)  # released


def test_failed_with_a_retry_planned(make_task, watched):
    task = make_task("eztm_fail", max_retries=1, retry_delays="60")
    cleanup = make_task("eztm_echo", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="failed")
    report = run_task(task.pk)
    checked = check_ending(report.pk, LaunchReport.ENDING_FAILED, "failed", retry=True)
    assert checked.failure_reason == "ValueError: boom"
    assert "Attempt 2 of 2 planned in 60 s." in checked.logs.last().message
    assert not LaunchReport.objects.filter(task=cleanup).exists()  # the last attempt decides


def test_refused_by_the_policy(make_task, watched):
    task = make_task("eztm_echo", max_retries=2)
    with override_settings(EZTASKMANAGER_EXCLUDED_COMMANDS=["eztm_echo"]):
        report = run_task(task.pk)
    checked = check_ending(report.pk, LaunchReport.ENDING_REFUSED, "failed")
    assert checked.failure_reason == "command not allowed: eztm_echo"
    assert checked.n_errors == 1 and checked.max_attempts == 1  # no retry of a refusal


def test_skipped_as_overlapping(make_task, watched):
    task = make_task("eztm_echo")
    cleanup = make_task("eztm_echo", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="warnings")
    assert watched.acquire_run_lock(task.pk, "the-other-run", 60)
    report = run_task(task.pk)
    checked = check_ending(report.pk, LaunchReport.ENDING_SKIPPED, "warnings")
    assert checked.failure_reason == "skipped: already running"
    assert not LaunchReport.objects.filter(task=cleanup).exists()  # the other run decides
    assert not watched.acquire_run_lock(task.pk, "probe", 10)  # the other run keeps its lock


def test_stopped_from_the_admin_with_retries(make_task, watched):
    task = make_task("eztm_echo", max_retries=2)
    cleanup = make_task("eztm_echo", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="failed")
    report = started(task, max_attempts=3, worker="gone")
    assert operations.stop_run(report, "ops", watched)
    # The request stored the outcome and reacted to nothing.
    assert EVENTS == []
    assert LaunchReport.objects.get(pk=report.pk).reactions_pending
    assert not LaunchReport.objects.filter(task=cleanup).exists()
    assert sweep(watched).reacted == [report.pk]  # the scheduler's pass
    check_ending(report.pk, LaunchReport.ENDING_STOPPED, "failed", retry=False)
    # A stopped run is its launch's last word, with or without retries: its follow-ups run.
    [follow_up] = LaunchReport.objects.filter(task=cleanup)
    assert follow_up.triggered_by_id == report.pk


def test_worker_died_with_a_retry_planned(make_task, watched):
    task = make_task("eztm_echo", max_retries=1, retry_delays="0")
    report = started(task, max_attempts=2)
    assert close_run(report, REASON_WORKER_DIED, backend=watched)
    check_ending(report.pk, LaunchReport.ENDING_WORKER_DIED, "failed", retry=True)
    assert not close_run(report, REASON_WORKER_DIED, backend=watched)  # one closer wins
    assert len(EVENTS) == 2


def test_interrupted(make_task, watched):
    task = make_task("eztm_echo", max_retries=1)
    report = started(task, max_attempts=2)
    assert close_run(report, REASON_INTERRUPTED, retry=False, backend=watched)
    check_ending(report.pk, LaunchReport.ENDING_INTERRUPTED, "failed", retry=False)


def test_a_failing_reaction_stops_none_of_the_others(make_task, watched, settings):
    task = make_task("eztm_lines", "1")
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "broken": {"class": "tests.runs.test_ending.NoSuchHandler", "level": "ok"},
        "watch": {"class": f"{__name__}.RecordingHandler", "level": "ok"},
    }
    report = run_task(task.pk)
    checked = check_ending(report.pk, LaunchReport.ENDING_FINISHED, "ok")
    assert "Notification 'broken' not sent" in checked.logs.last().message


def report_writes(queries, report_id: int) -> tuple[int, int]:
    """From the outcome's UPDATE on: UPDATEs of the report's row and INSERT statements of log
    lines among ``queries`` (the run's log handler writes its last lines before it)."""
    sqls = [q["sql"] for q in queries]
    row = re.compile(rf'"eztaskmanager_launchreport"\."id" = {report_id}\b')
    [start] = [i for i, s in enumerate(sqls) if '"ending" = ' in s and row.search(s)]
    sqls = sqls[start:]
    updates = [
        s for s in sqls if s.startswith('UPDATE "eztaskmanager_launchreport"') and row.search(s)
    ]
    inserts = [s for s in sqls if s.startswith('INSERT INTO "eztaskmanager_log"')]
    return len(updates), len(inserts)


def test_an_ending_writes_its_report_once_and_its_notes_once(make_task, watched, settings):
    """The outcome, its counters and its last lines go in one UPDATE and one INSERT; what the
    reactions note (a handler that failed, a follow-up launched) in one batch after."""
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "broken": {"class": "tests.runs.test_ending.NoSuchHandler", "level": "ok"},
    }
    task = make_task("eztm_echo", max_retries=1)
    cleanup = make_task("eztm_echo", name="cleanup")
    FollowUp.objects.create(task=task, then=cleanup, results="failed")
    report = started(task, max_attempts=1)
    with CaptureQueriesContext(connection) as ctx:
        assert close_run(report, REASON_WORKER_DIED, backend=watched)
    assert report_writes(ctx.captured_queries, report.pk) == (2, 2)  # outcome + notes
    lines = list(LaunchReport.objects.get(pk=report.pk).logs.values_list("message", flat=True))
    assert lines[0] == "Run ended: worker died."
    assert "Notification 'broken' not sent" in lines[1] and "launched" in lines[2]

    failing = make_task("eztm_fail", max_retries=1, retry_delays="60", name="failing")
    with CaptureQueriesContext(connection) as ctx:
        failed = run_task(failing.pk)
    # The outcome with its "attempt planned" line, then the notes.
    assert report_writes(ctx.captured_queries, failed.pk) == (2, 2)
