import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from eztaskmanager.models import Log, Task
from tests.factories import make_lines, make_report

pytestmark = pytest.mark.django_db


def report_with_lines(task, n, result="ok"):
    report = make_report(task, invocation_result=result)
    make_lines(report, *(f"m{i}" for i in range(1, n + 1)))
    return report


@override_settings(EZTASKMANAGER_LOG_LINE_FORMAT="{level}:{message}")
def test_log_reading_helpers(make_task):
    report = report_with_lines(make_task(), 25)
    assert report.log_tail(3) == "22 lines hidden ...\nINFO:m23\nINFO:m24\nINFO:m25"
    assert report.read_log_lines(20) == (
        ["INFO:m21", "INFO:m22", "INFO:m23", "INFO:m24", "INFO:m25"],
        25,
    )
    assert report.read_log_lines(0, limit=2) == (["INFO:m1", "INFO:m2"], 25)
    assert report.get_log_lines()[0] == "INFO:m1"
    assert list(report.iter_log_lines(chunk_size=7)) == [f"INFO:m{i}" for i in range(1, 26)]
    assert report.n_log_lines == 25


def test_log_tail_short_log_has_no_hidden_line(make_task):
    report = report_with_lines(make_task(), 2)
    assert "hidden" not in report.log_tail(10)


def test_compute_cache_uses_latest_finished_report(make_task):
    task = make_task()
    make_report(task, invocation_result="errors", n_errors=2)
    make_report(task, invocation_result="")  # still running
    task.compute_cache()
    task.refresh_from_db()
    assert task.cached_last_invocation_result == "errors"
    assert task.cached_last_invocation_n_errors == 2


def test_deleting_a_report_refreshes_the_cache(make_task):
    task = make_task()
    first = make_report(task, invocation_result="ok")
    second = make_report(task, invocation_result="failed")
    task.compute_cache()
    second.delete()
    task.refresh_from_db()
    assert task.cached_last_invocation_result == "ok"
    first.delete()
    task.refresh_from_db()
    assert task.cached_last_invocation_result is None


def test_prune_keeps_latest_and_their_logs(make_task):
    task = make_task()
    reports = [report_with_lines(task, 3) for _ in range(5)]
    assert task.prune_reports(2) == 3
    kept = set(task.launchreport_set.values_list("id", flat=True))
    assert kept == {reports[-1].pk, reports[-2].pk}
    assert Log.objects.count() == 6
    assert task.prune_reports(0) == 0  # 0 keeps everything


def test_clean_reports_parser_message_on_arguments(make_task):
    task = make_task("eztm_echo")
    task.arguments = "--count lots"
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert info.value.message_dict["arguments"] == ["argument --count: invalid int value: 'lots'"]


def test_clean_accepts_valid_arguments(make_task):
    task = make_task("eztm_echo", '--title "a, b", --tag x, --tag y')
    task.full_clean()


def test_clean_requires_period_and_rate_together(make_task):
    task = make_task(repetition_period="day")
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "repetition_rate" in info.value.message_dict


def test_args_and_options_helpers(make_task):
    task = make_task("eztm_echo", "a, --pair p q, b, --count=3, --shout, --tag x, --tag y")
    assert task.args == ["a", "b"]
    assert task.options == {"pair": "p q", "count": "3", "shout": "True", "tag": "y"}
    assert task.complete_args == [
        "a",
        "--pair",
        "p",
        "q",
        "b",
        "--count=3",
        "--shout",
        "--tag",
        "x",
        "--tag",
        "y",
    ]


def test_periodic_and_interval(make_task):
    task = make_task(repetition_period="week", repetition_rate=2)
    assert task.is_periodic and task.interval_in_seconds == 14 * 86400
    assert not Task(repetition_period="", repetition_rate=None).is_periodic


def test_str_forms(make_task):
    task = make_task(name="nightly")
    assert str(task) == "nightly"  # its state is shown by the admin, not in its name
    assert str(task.command) == "testapp: eztm_echo" or str(task.command).endswith(": eztm_echo")


def test_help_text_of_command(make_task):
    assert "--title" in make_task("eztm_echo").command.help_text


def test_cron_expression_is_validated_on_save(make_task):
    task = make_task(cron_expression="61 * * * *")
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "not a valid cron expression" in info.value.message_dict["cron_expression"][0]
    task.cron_expression = " 30  2 * * * "
    task.full_clean()
    assert task.cron_expression == "30 2 * * *"
    assert task.cron_description == "at 02:30, every day"
    assert task.is_periodic


def test_cron_and_repetition_are_exclusive(make_task):
    task = make_task(cron_expression="0 * * * *", repetition_period="hour", repetition_rate=1)
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "not both" in info.value.message_dict["cron_expression"][0]
