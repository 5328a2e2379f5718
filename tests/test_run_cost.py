"""What a run costs beyond its command: one helper thread, a small job result."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from eztaskmanager import runs
from eztaskmanager.backends import get_backend
from eztaskmanager.models import LaunchReport, Log
from eztaskmanager.services import run_management_command
from eztaskmanager.services.logger import DatabaseLogHandler


def helper_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("eztaskmanager-")}


@pytest.mark.django_db(transaction=True)
def test_a_run_starts_one_helper_thread(make_task):
    task = make_task("eztm_lines", "1, --verbosity 2")
    run = runs.Run.start(task, False, 1, get_backend())
    before = helper_threads()

    run.begin_logging()
    during = helper_threads() - before
    run.call()
    run.finish("")

    assert during == {"eztaskmanager-heartbeat"}
    assert helper_threads() == before
    assert LaunchReport.objects.get(pk=run.report.pk).invocation_result == "ok"


@pytest.mark.django_db(transaction=True)
def test_heartbeat_thread_writes_lines_that_waited_before_the_first_beat(make_task):
    task = make_task()
    old = timezone.now() - timedelta(hours=1)
    report = LaunchReport.objects.create(task=task, started_at=old, heartbeat_at=old)
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
