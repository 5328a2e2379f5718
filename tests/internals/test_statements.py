"""Statements compiled once per process: the same rows go as with the ORM, whatever the task."""

import pytest

from eztaskmanager.internals import statements
from eztaskmanager.models import LaunchReport, Log, logs_of, old_reports
from tests.factories import make_lines, make_report

pytestmark = pytest.mark.django_db


def reports_with_lines(task, count, lines=2):
    reports = []
    for _ in range(count):
        report = make_report(task, invocation_result="ok")
        make_lines(report, *["INFO"] * lines)
        reports.append(report)
    return reports


def test_prune_sql_takes_the_task_id_as_a_parameter():
    compiled = statements.compile_delete(old_reports(statements.STAND_IN, 3), "default")
    assert compiled is not None
    sql, params = compiled
    assert params.count(statements.STAND_IN) == 2 and str(statements.STAND_IN) not in sql


def test_compiled_prune_deletes_what_the_orm_would(make_task):
    first, second = make_task(name="first"), make_task(name="second")
    kept_first = reports_with_lines(first, 5)[-2:]
    kept_second = reports_with_lines(second, 4)[-2:]

    # The second task's prune runs the SQL compiled for the first's.
    assert first.prune_reports(2) == 3
    assert second.prune_reports(2) == 2

    assert set(first.launchreport_set.all()) == set(kept_first)
    assert set(second.launchreport_set.all()) == set(kept_second)
    assert Log.objects.count() == 8
    assert set(Log.objects.values_list("launch_report_id", flat=True)) == {
        r.pk for r in kept_first + kept_second
    }
    assert statements._compiled[(("prune reports", 2), "default")] is not None


def test_a_statement_keeps_its_other_parameters(make_task):
    task, other = make_task(), make_task(name="other")
    failed = make_report(task, invocation_result="failed")
    ok = make_report(task, invocation_result="ok")
    make_report(other, invocation_result="failed")

    def failed_of(pk):
        return LaunchReport.objects.filter(task_id=pk, invocation_result="failed")

    assert "failed" in statements.compile_delete(failed_of(statements.STAND_IN), "default")[1]
    statements.raw_delete("failed reports", failed_of, other.pk, "default")  # compiled here
    assert statements.raw_delete("failed reports", failed_of, task.pk, "default") == 1
    assert list(LaunchReport.objects.all()) == [ok]  # both tasks' failed reports went
    assert not LaunchReport.objects.filter(pk=failed.pk).exists()


def test_logs_of_old_reports_go_first(make_task):
    task = make_task()
    reports_with_lines(task, 3, lines=4)
    assert (
        statements.raw_delete("logs", lambda pk: logs_of(old_reports(pk, 1)), task.pk, "default")
        == 8
    )
