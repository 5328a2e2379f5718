"""What a run costs beyond its command: no thread of its own, a small job result."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from eztaskmanager import runs
from eztaskmanager.backends import get_backend
from eztaskmanager.models import LaunchReport, Log
from eztaskmanager.runs.ending import Outcome
from eztaskmanager.runs.logger import DatabaseLogHandler
from eztaskmanager.runs.ticker import TICKER, Ticker
from eztaskmanager.services import run_management_command
from tests.factories import running_report


def helper_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("eztaskmanager-")}


def run_once(task) -> tuple[set[str], set[str]]:
    """Run ``task`` in steps; return the helper threads during the run and after it."""
    run = runs.Run.start(task, False, 1, get_backend())
    run.begin_logging()
    during = helper_threads()
    run.call()
    run.finish(Outcome.ran())
    assert LaunchReport.objects.get(pk=run.report.pk).invocation_result == "ok"
    return during, helper_threads()


@pytest.mark.django_db(transaction=True)
def test_runs_in_one_process_share_one_helper_thread(make_task):
    task = make_task("eztm_lines", "1, --verbosity 2")
    during, after = run_once(task)
    assert "eztaskmanager-ticker" in during
    ticker = TICKER._thread

    for _ in range(3):
        during, after = run_once(task)
        assert during == after == {"eztaskmanager-ticker"}
    assert TICKER._thread is ticker  # no thread started for the later runs
    assert not TICKER._entries  # every run took its beat back


def test_ticker_calls_each_callback_every_period_until_removed():
    ticker = Ticker()
    fast, slow = [], []
    first = ticker.add(0.02, lambda: fast.append(time.monotonic()))
    second = ticker.add(0.5, lambda: slow.append(time.monotonic()))
    time.sleep(0.3)
    ticker.remove(first)
    calls = len(fast)
    time.sleep(0.1)
    ticker.remove(second)
    assert calls >= 5 and len(fast) == calls  # nothing after remove() returned
    assert slow == []  # its first call was not due yet


def test_a_callback_running_during_remove_finishes_first():
    ticker = Ticker()
    started, done = threading.Event(), []

    def slow():
        started.set()
        time.sleep(0.2)
        done.append(1)

    key = ticker.add(0.01, slow)
    assert started.wait(5)
    ticker.remove(key)
    assert done  # remove() waited for the call in flight


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_writes_lines_that_waited_before_the_first_beat(make_task):
    task = make_task()
    old = timezone.now() - timedelta(hours=1)
    report = running_report(task, started_at=old, heartbeat_at=old)
    handler = DatabaseLogHandler(report.pk, flush_lines=1000, flush_seconds=0.1, timer=False)
    handler.handle(logging.LogRecord("x", logging.INFO, __file__, 1, "quiet line", None, None))
    beat = runs.Heartbeat(report.pk, interval=60, handler=handler).start()
    try:
        deadline = time.monotonic() + 5
        while not Log.objects.filter(launch_report=report).exists():
            assert time.monotonic() < deadline, "the waiting line was never written"
            time.sleep(0.02)
    finally:
        beat.stop()
    report.refresh_from_db()
    assert list(report.logs.values_list("message", flat=True)) == ["quiet line"]
    assert report.n_lines == 1
    assert report.heartbeat_at == old  # the first beat was not due yet


@pytest.mark.django_db
def test_in_process_run_returns_the_report(make_task):
    report = run_management_command(make_task("eztm_lines", "1, --verbosity 2").pk)
    assert isinstance(report, LaunchReport)
    assert report.invocation_result == "ok"


@pytest.mark.django_db(transaction=True)
def test_a_run_commits_twice_its_last_lines_with_its_outcome(make_task, monkeypatch):
    task = make_task("eztm_lines", "5, --verbosity 2")
    commits = []
    commit = connection.commit

    def counted():
        commits.append(1)
        commit()

    monkeypatch.setattr(connection, "commit", counted)
    report = run_management_command(task.pk)

    assert len(commits) == 2  # the report's start; its lines, outcome and task together
    report.refresh_from_db()
    assert (report.invocation_result, report.n_lines, report.logs.count()) == ("ok", 5, 5)
