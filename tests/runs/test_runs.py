"""run_management_command: the run lifecycle, in-process."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.services import run_management_command

# Runs take their run lock in the real Redis.
pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def messages(report):
    return list(report.logs.order_by("lineno").values_list("level", "message"))


def test_ok_run_records_times_and_cache(make_task):
    task = make_task("eztm_lines", "3, --verbosity 2")
    report = run_management_command(task.pk)
    report.refresh_from_db()
    task.refresh_from_db()
    assert report.invocation_result == "ok"
    assert report.started_at <= report.finished_at
    assert report.duration is not None and report.duration >= 0
    assert report.n_lines == 3 and report.n_errors == 0 and report.n_warnings == 0
    assert [m for _, m in messages(report)] == ["line 1 of 3", "line 2 of 3", "line 3 of 3"]
    assert task.status == Task.STATUS_IDLE
    assert task.cached_last_invocation_result == "ok"
    assert task.cached_last_invocation_datetime == report.started_at
    assert task.cached_last_invocation_n_errors == 0


@pytest.mark.parametrize(
    "level, result, errors, warnings",
    [("info", "ok", 0, 0), ("warning", "warnings", 0, 2), ("error", "errors", 2, 0)],
)
def test_result_derived_from_levels(make_task, level, result, errors, warnings):
    task = make_task("eztm_lines", f"2, --level {level}, --verbosity 2")
    report = run_management_command(task.pk)
    assert report.invocation_result == result
    task.refresh_from_db()
    assert (task.cached_last_invocation_n_errors, task.cached_last_invocation_n_warnings) == (
        errors,
        warnings,
    )


def test_verbosity_filters_levels_like_050(make_task):
    task = make_task("eztm_lines", "2, --level info, --verbosity 1")  # WARNING and above
    report = run_management_command(task.pk)
    assert report.n_lines == 0
    assert report.invocation_result == "ok"


@pytest.mark.parametrize(
    "verbosity, kept",
    [
        ("", ["INFO", "WARNING"]),
        (", --verbosity 0", []),
        (", --verbosity 3", ["DEBUG", "INFO", "WARNING"]),
    ],
)
def test_a_run_keeps_info_lines_unless_the_task_gives_a_verbosity(make_task, verbosity, kept):
    levels = ("debug", "info", "warning")
    task = make_task("eztm_lines", f"1, --level debug{verbosity}")
    by_level = {}
    for level in levels:
        task.arguments = f"1, --level {level}{verbosity}"
        task.save(update_fields=["arguments"])
        report = run_management_command(task.pk)
        by_level[level.upper()] = report.n_lines
    assert [level for level, n in by_level.items() if n] == kept


def test_a_shell_keeps_warnings_by_default(capsys):
    from django.core.management import call_command

    call_command("eztm_lines", "1", "--level", "info")
    call_command("eztm_lines", "1", "--level", "warning")
    err = capsys.readouterr().err
    assert "WARNING" in err and "INFO" not in err


@pytest.mark.parametrize(
    "how, reason",
    [
        ("exception", "ValueError: boom"),
        ("commanderror", "CommandError: bad input given"),
        ("exit", "the command exited with status 3"),
    ],
)
def test_every_exception_is_a_failed_run_with_traceback(make_task, how, reason):
    task = make_task("eztm_fail", f"--how {how}")
    report = run_management_command(task.pk)
    report.refresh_from_db()
    assert report.invocation_result == "failed"
    assert report.failure_reason == reason
    logged = messages(report)
    assert logged[0] == ("WARNING", "about to fail")
    assert logged[-1][0] == "ERROR"
    assert "Traceback (most recent call last)" in logged[-1][1]
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE
    assert task.cached_last_invocation_result == "failed"


def test_partial_log_is_kept_when_command_fails(make_task):
    task = make_task("eztm_lines", "10, --fail-at 4, --verbosity 2")
    report = run_management_command(task.pk)
    assert report.invocation_result == "failed"
    assert [m for _, m in messages(report)][:4] == [f"line {i} of 10" for i in range(1, 5)]


def test_plain_command_output_becomes_log(make_task):
    report = run_management_command(make_task("eztm_plain").pk)
    assert messages(report) == [("INFO", "hello from stdout"), ("ERROR", "complaint on stderr")]
    assert report.invocation_result == "errors"


def test_arguments_reach_the_command(make_task):
    task = make_task(
        "eztm_echo", 'a, b, --title "x, y", --tag one, --tag two, --pair p q, --count=3, --shout'
    )
    report = run_management_command(task.pk)
    assert [m for _, m in messages(report)] == [
        "items=['a', 'b']",
        "title='x, y'",
        "tags=['one', 'two']",
        "pair=['p', 'q']",
        "count=3 shout=True",
    ]


def test_missing_task_is_ignored(caplog):
    assert run_management_command(987654) is None
    assert "987654 does not exist" in caplog.text
    assert LaunchReport.objects.count() == 0


@override_settings(EZTASKMANAGER_N_REPORTS_INLINE=2)
def test_old_reports_are_pruned(make_task):
    task = make_task("eztm_lines", "1, --level warning")
    ids = [run_management_command(task.pk).pk for _ in range(4)]
    assert list(task.launchreport_set.order_by("id").values_list("id", flat=True)) == ids[-2:]


TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT", "ROLLBACK")


def test_no_op_run_query_budget(make_task):
    task = make_task("eztm_lines", "0")
    with CaptureQueriesContext(connection) as ctx:
        run_management_command(task.pk)
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    # read task, create report, mark started, close report, refresh task, prune (2)
    assert len(statements) <= 7, statements


def test_a_queued_launch_runs_in_seven_statements(make_task):
    """A worker's run of a queued launch: its task and launch in one read, the claim and the
    task's status, the outcome, the task's state and the pruning; the end's notifications and
    follow-ups read nothing more."""
    from eztaskmanager.runs import run_task
    from tests.factories import queued_report

    task = make_task("eztm_lines", "0")
    launch = queued_report(task)
    with CaptureQueriesContext(connection) as ctx:
        report = run_task(task.pk, report_id=launch.pk)
    assert (report.pk, report.invocation_result) == (launch.pk, "ok")
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    kinds = [sql.split()[0] for sql in statements]
    assert kinds == ["SELECT", "UPDATE", "UPDATE", "UPDATE", "UPDATE", "DELETE", "DELETE"], (
        statements
    )


@override_settings(EZTASKMANAGER_LOG_FLUSH_SECONDS=0)
def test_twenty_thousand_lines_in_tens_of_queries(make_task):
    task = make_task("eztm_lines", "20000, --verbosity 2")
    with CaptureQueriesContext(connection) as ctx:
        report = run_management_command(task.pk)
    assert report.n_lines == 20000
    assert report.logs.count() == 20000
    assert len(ctx.captured_queries) <= 100
    last = report.logs.order_by("-lineno").first()
    assert (last.lineno, last.message) == (20000, "line 20000 of 20000")


def test_progress_is_stored(make_task):
    report = run_management_command(make_task("eztm_lines", "5, --level warning").pk)
    report.refresh_from_db()
    assert (report.progress_done, report.progress_total, report.progress_percent) == (5, 5, 100.0)
