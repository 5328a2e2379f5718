"""DatabaseLogHandler buffering and LoggerEnabledCommand outside a run."""

import io
import logging
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eztaskmanager.models import Log
from eztaskmanager.runs.logger import DatabaseLogHandler, verbosity2loglevel
from tests.factories import make_report


@pytest.fixture
def report(make_task):
    return make_report(make_task())


def make_logger(handler):
    logger = logging.getLogger(f"tests.logger.{id(handler)}")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


@pytest.mark.django_db
def test_buffer_flushes_by_count(report):
    handler = DatabaseLogHandler(report.pk, flush_lines=10, flush_seconds=0)
    logger = make_logger(handler)
    for i in range(9):
        logger.info("line %d", i)
    assert Log.objects.filter(launch_report=report).count() == 0
    logger.info("tenth")
    assert Log.objects.filter(launch_report=report).count() == 10
    report.refresh_from_db()
    assert report.n_lines == 10
    handler.close()


@pytest.mark.django_db
def test_close_flushes_and_counts_levels(report):
    handler = DatabaseLogHandler(report.pk, flush_lines=100, flush_seconds=0)
    logger = make_logger(handler)
    logger.warning("w")
    logger.error("e")
    logger.critical("c")
    logger.debug("d")
    handler.close()
    report.refresh_from_db()
    assert (report.n_lines, report.n_errors, report.n_warnings) == (4, 2, 1)
    rows = list(report.logs.values_list("lineno", "level", "message"))
    assert rows == [(1, "WARNING", "w"), (2, "ERROR", "e"), (3, "CRITICAL", "c"), (4, "DEBUG", "d")]


@pytest.mark.django_db(transaction=True)
def test_timer_flushes_a_quiet_command(report):
    handler = DatabaseLogHandler(report.pk, flush_lines=1000, flush_seconds=0.2)
    logger = make_logger(handler)
    logger.warning("only line, then silence")
    deadline = time.monotonic() + 5
    while not Log.objects.filter(launch_report=report).exists():
        assert time.monotonic() < deadline, "the line was not written while the run was quiet"
        time.sleep(0.05)
    handler.close()
    assert Log.objects.filter(launch_report=report).count() == 1


@pytest.mark.django_db(transaction=True)
def test_failed_write_keeps_lines_for_next_attempt(report):
    from django.db import IntegrityError

    handler = DatabaseLogHandler(10**9, flush_lines=1000, flush_seconds=0)
    logger = make_logger(handler)
    logger.warning("kept")
    with pytest.raises(IntegrityError):  # no such report: the commit is refused
        handler.flush()
    assert len(handler.buffer) == 1
    handler.launch_report_id = report.pk
    handler.buffer = [(report.pk, *row[1:]) for row in handler.buffer]
    handler.close()
    assert list(report.logs.values_list("message", flat=True)) == ["kept"]


@pytest.mark.django_db
def test_flush_cost_is_two_statements_per_batch(report):
    handler = DatabaseLogHandler(report.pk, flush_lines=1000, flush_seconds=0)
    logger = make_logger(handler)
    with CaptureQueriesContext(connection) as ctx:
        for i in range(3000):
            logger.info("x%d", i)
        handler.close()
    statements = [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 6


@pytest.mark.parametrize(
    "verbosity, level", [(0, "ERROR"), (1, "WARNING"), (2, "INFO"), (3, "DEBUG"), ("x", "WARNING")]
)
def test_verbosity_mapping(verbosity, level):
    assert logging.getLevelName(verbosity2loglevel(verbosity)) == level


@pytest.mark.django_db
def test_command_from_shell_logs_to_console():
    err = io.StringIO()
    call_command("eztm_lines", "2", "--level", "warning", stderr=err)
    assert "WARNING line 1 of 2" in err.getvalue()
    assert "WARNING line 2 of 2" in err.getvalue()
    assert Log.objects.count() == 0


@pytest.mark.django_db
def test_legacy_launch_report_id_option_is_accepted():
    err = io.StringIO()
    call_command("eztm_lines", "1", "--level", "warning", "--launch_report_id", "5", stderr=err)
    assert "line 1 of 1" in err.getvalue()
