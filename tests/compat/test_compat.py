"""What a 0.5.x project keeps: notification levels, its argument rule, Log rows written through
the ORM, and the deprecated names (each warns once and is listed by ``manage.py check``)."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import include, path, reverse
from django.utils.module_loading import import_string

from eztaskmanager import compat, operations
from eztaskmanager.cli.tasks_as_code import export_tasks, load_tasks
from eztaskmanager.compat.levels import level_name
from eztaskmanager.core import arguments
from eztaskmanager.models import LaunchReport, Log
from tests import factories

EMAIL = "eztaskmanager.services.notifications.EmailNotificationHandler"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_slate(settings):
    """No deprecated use recorded yet; runs happen in-process."""
    compat.forget_uses()
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {}
    yield
    compat.forget_uses()


def email(level):
    return {
        "class": EMAIL,
        "from_email": "tasks@example.com",
        "recipients": ["ops@example.com"],
        "level": level,
    }


def run(task) -> LaunchReport:
    report = operations.launch(task, defer=False).report
    report.refresh_from_db()
    return report


def messages_with(checks, check_id):
    return [message for message in checks if message.id == check_id]


# -- notification levels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, name",
    [
        ("failure", "failed"),
        ("warning", "warnings"),
        ("error", "errors"),
        ("failed", "failed"),
        (0, "ok"),
        (10, "warnings"),
        (15, "errors"),
        (20, "errors"),
        (30, "failed"),
        (31, None),
        (True, None),
        ("bogus", None),
        (None, None),
    ],
)
def test_level_names_and_integers_of_050(value, name):
    assert level_name(value) == name


@pytest.mark.parametrize("value, name", [("failure", "failed"), (20, "errors")])
def test_old_level_is_a_warning_naming_the_new_spelling(settings, value, name):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {"mail": email(value)}
    checks = run_checks()
    assert not [m for m in checks if m.is_serious() and m.id.startswith("eztaskmanager")]
    [warning] = messages_with(checks, "eztaskmanager.W012")
    assert repr(name) in warning.msg and warning.hint == f'Write "level": "{name}".'
    call_command("check")  # exits on errors only


def test_unknown_level_is_still_an_error(settings):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {"mail": email("sometimes")}
    [error] = messages_with(run_checks(), "eztaskmanager.E012")
    assert "'sometimes'" in error.msg


def test_failure_level_notifies_failed_runs_only(settings, make_task, mailoutbox):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {"mail": email("failure")}
    assert run(make_task("eztm_lines", "2, --level error")).invocation_result == "errors"
    assert mailoutbox == []
    assert run(make_task("eztm_fail")).invocation_result == "failed"
    [message] = mailoutbox
    assert "failed" in message.subject


def test_integer_level_notifies_from_its_result_up(settings, make_task, mailoutbox):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {"mail": email(10)}
    assert run(make_task("eztm_lines", "1")).invocation_result == "ok"
    assert mailoutbox == []
    assert run(make_task("eztm_lines", "1, --level warning")).invocation_result == "warnings"
    assert len(mailoutbox) == 1


# -- the 0.5.x argument rule -------------------------------------------------------------------

DOC_EXAMPLE = "-f, --secondarg param1 param2, --thirdarg=pippo, --thirdarg"


def test_legacy_rule_joins_words_after_an_option():
    assert arguments.legacy_tokenize("--info=hello world") == ["--info", "hello world"]
    assert arguments.legacy_tokenize(" a b ,  --x = 1 2,") == ["a", "b", "--x", "1 2"]
    # A repeated first word keeps its place and its last value; no quoting.
    assert arguments.legacy_tokenize(DOC_EXAMPLE) == [
        "-f",
        "--secondarg",
        "param1 param2",
        "--thirdarg",
    ]
    assert arguments.legacy_tokenize('--title "a b"') == ["--title", '"a b"']


def test_legacy_task_runs_with_the_meaning_it_had(make_task):
    legacy = make_task(arguments="--title=hello world, --count=3", legacy_arguments=True)
    report = run(legacy)
    assert report.invocation_result == "warnings"
    messages = list(report.logs.values_list("message", flat=True))
    assert "title='hello world'" in messages and "count=3 shout=False" in messages

    # The current rule reads "world" as a word of its own (here, a positional item).
    current = make_task(arguments="--title=hello world, --count=3", name="current rule")
    messages = list(run(current).logs.values_list("message", flat=True))
    assert "title='hello'" in messages and "items=['world']" in messages


def test_legacy_task_args_and_options_are_those_of_050(make_task):
    task = make_task(arguments=DOC_EXAMPLE, legacy_arguments=True)
    assert task.args == ["-f", "--thirdarg"]
    assert task.options == {"secondarg": "param1 param2"}
    assert task.complete_args == ["-f", "--secondarg", "param1 param2", "--thirdarg"]

    task = make_task(arguments="a, --title = x y, --dry-run=1", legacy_arguments=True)
    assert task.args == ["a"]
    assert task.options == {"title": "x y", "dry_run": "1"}


def test_legacy_arguments_are_checked_by_the_legacy_rule(make_task):
    task = make_task("eztm_fail", arguments="--how=commanderror", legacy_arguments=True)
    task.full_clean()
    task.arguments = "--how=command error"  # one value by the 0.5.x rule, refused by choices
    with pytest.raises(ValidationError, match="invalid choice: 'command error'"):
        task.full_clean()
    task.legacy_arguments = False
    with pytest.raises(ValidationError, match="invalid choice: 'command'"):
        task.full_clean()


def test_new_tasks_follow_the_current_rule(make_task):
    assert make_task().legacy_arguments is False


# -- Log rows saved through the ORM ------------------------------------------------------------


def test_orm_rows_are_numbered_and_counted(make_task, admin_client):
    report = run(make_task("eztm_lines", "2, --level warning"))
    assert report.n_lines == 2
    Log.objects.create(launch_report=report, level="ERROR", message="written by hand")
    Log.objects.create(launch_report_id=report.pk, level="WARNING", message="and another")
    report.refresh_from_db()
    assert (report.n_lines, report.n_errors, report.n_warnings) == (4, 1, 3)
    assert list(report.logs.values_list("lineno", "message"))[-2:] == [
        (3, "written by hand"),
        (4, "and another"),
    ]
    lines, total = report.read_log_lines(2)
    assert total == 4 and "written by hand" in lines[0]
    data = admin_client.get(
        reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]), {"after": 2}
    ).json()
    assert [line["message"] for line in data["lines"]] == ["written by hand", "and another"]


def test_orm_rows_during_a_run_take_their_place_in_the_log(make_task):
    report = run(make_task("eztm_orm_log", "3"))
    rows = list(report.logs.values_list("lineno", "message"))
    assert [n for n, _ in rows] == list(range(1, 7))
    assert [m for _, m in rows] == [
        text for i in (1, 2, 3) for text in (f"logger line {i}", f"orm row {i}")
    ]
    assert (report.n_lines, report.n_errors, report.n_warnings) == (6, 3, 3)
    assert report.invocation_result == "errors"  # the rows count, as in 0.5.x


def test_numbered_rows_keep_their_number(make_task):
    report = run(make_task("eztm_lines", "1, --level warning"))
    Log.objects.create(launch_report=report, level="INFO", message="given", lineno=7)
    report.refresh_from_db()
    assert report.n_lines == 1  # a writer giving numbers keeps its own counters


# -- deprecated names --------------------------------------------------------------------------


def deprecation_messages(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, DeprecationWarning)]


def test_settings_module_is_read_at_call_time_and_warns_once(settings):
    sys.modules.pop("eztaskmanager.settings", None)
    with pytest.warns(DeprecationWarning, match="eztaskmanager.settings is deprecated.*0.8"):
        legacy_settings = importlib.import_module("eztaskmanager.settings")
    settings.EZTASKMANAGER_N_REPORTS_INLINE = 3
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert legacy_settings.EZTASKMANAGER_N_REPORTS_INLINE == 3
        with override_settings(EZTASKMANAGER_N_REPORTS_INLINE=7):
            assert legacy_settings.EZTASKMANAGER_N_REPORTS_INLINE == 7
        assert legacy_settings.EZTASKMANAGER_USE_FILTER_COLLAPSE is True
        sys.modules.pop("eztaskmanager.settings")
        importlib.import_module("eztaskmanager.settings")
    assert deprecation_messages(record) == []
    with pytest.raises(AttributeError):
        legacy_settings.EZTASKMANAGER_NO_SUCH_SETTING  # noqa: B018


def test_notification_names_of_050(settings):
    from eztaskmanager.services import notifications

    settings.EZTASKMANAGER_BASE_URL = "https://tasks.example.com/"
    with pytest.warns(DeprecationWarning, match="LEVEL_MAPPING"):
        assert notifications.LEVEL_MAPPING == {"ok": 0, "warnings": 10, "errors": 20, "failed": 30}
    with pytest.warns(DeprecationWarning, match="get_base_url"):
        assert notifications.get_base_url() == "tasks.example.com"
    with pytest.warns(DeprecationWarning, match="MESSAGES"):
        messages = notifications.MESSAGES
    text = messages[30].format(task_name="nightly", invocation_time="now", n_errors=0, n_warnings=0)
    assert "nightly" in text and "failed" in text
    with pytest.raises(AttributeError):
        notifications.NO_SUCH_NAME  # noqa: B018


def test_get_notification_handlers(settings):
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": email("failure"),
        "broken": {"class": "no.such.Handler", "level": "ok"},
    }
    with pytest.warns(DeprecationWarning, match="get_notification_handlers"):
        handlers = LaunchReport.get_notification_handlers()
    assert list(handlers) == ["mail"] and handlers["mail"].level == "failed"


def test_report_name_is_that_of_050(make_task):
    report = run(make_task("eztm_lines", "1", name="nightly import"))
    assert str(report) == f"LaunchReport nightly import ok {report.invocation_datetime}"


# -- the view classes --------------------------------------------------------------------------


def legacy_urlpatterns():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # expected: the names are old
        from eztaskmanager.views import AjaxReadLogLines, LiveLogViewerView, LogViewerView

    return [
        path("old/logviewer/<int:pk>/", LogViewerView.as_view(), name="old_log_viewer"),
        path("old/live/<int:pk>/", LiveLogViewerView.as_view(), name="old_live"),
        path("old/read/<int:pk>/", AjaxReadLogLines.as_view(), name="old_read"),
    ]


class LegacyUrls:
    """A URLconf mounting 0.5.x's view classes next to the package's own URLs."""

    def __init__(self):
        from django.contrib import admin

        self.urlpatterns = [
            path("admin/", admin.site.urls),
            path("eztaskmanager/", include("eztaskmanager.urls")),
            *legacy_urlpatterns(),
        ]


@pytest.fixture
def legacy_urls():
    with override_settings(ROOT_URLCONF=LegacyUrls()):
        yield


def client_with(*codenames) -> Client:
    return factories.staff_client(*codenames)


def test_view_classes_warn_once():
    with pytest.warns(DeprecationWarning, match="LogViewerView.*eztaskmanager.views.log_viewer"):
        from eztaskmanager.views import LogViewerView  # noqa: F401
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        from eztaskmanager.views import LogViewerView  # noqa: F401, F811
    assert deprecation_messages(record) == []
    with pytest.raises(ImportError):
        from eztaskmanager.views import NoSuchView  # noqa: F401


def test_view_classes_serve_with_the_same_checks(legacy_urls, make_task, client):
    report = run(make_task("eztm_lines", "2, --level warning"))
    for name in ("old_log_viewer", "old_live", "old_read"):
        url = f"{reverse(name, args=[report.pk])}?offset=0"
        assert client.get(url).status_code == 302  # anonymous: to the login page
        assert client_with().get(url).status_code == 403
        assert client_with("view_launchreport").post(url).status_code == 405
        response = client_with("view_launchreport").get(url)
        assert response.status_code == 200, name
    data = client_with("view_launchreport").get(
        reverse("old_read", args=[report.pk]), {"offset": 1}
    )
    assert set(data.json()) == {"new_log_lines", "task_status", "log_size"}
    assert "line 2 of 2" in data.json()["new_log_lines"][0]
    body = client_with("view_launchreport").get(reverse("old_log_viewer", args=[report.pk]))
    assert "line 1 of 2" in body.content.decode()


def test_check_lists_what_the_project_still_uses(legacy_urls, settings):
    settings.EZTASKMANAGER_USE_FILTER_COLLAPSE = True
    from eztaskmanager.services import notifications

    with pytest.warns(DeprecationWarning):
        notifications.LEVEL_MAPPING  # noqa: B018
    checks = run_checks()
    used = " ".join(message.msg for message in messages_with(checks, "eztaskmanager.W020"))
    assert "old/logviewer/<int:pk>/" in used and "AjaxReadLogLines" in used
    assert "eztaskmanager.services.notifications.LEVEL_MAPPING" in used
    [obsolete] = messages_with(checks, "eztaskmanager.W021")
    assert "EZTASKMANAGER_USE_FILTER_COLLAPSE" in obsolete.msg


def test_check_is_quiet_for_a_project_on_current_names():
    checks = run_checks()
    assert messages_with(checks, "eztaskmanager.W020") == []
    assert messages_with(checks, "eztaskmanager.W021") == []


def test_loading_a_declaration_moves_a_task_to_the_current_rule(make_task):
    old = make_task(arguments="--title=hello world", name="old", legacy_arguments=True)
    assert export_tasks()[0]["legacy_arguments"] is True  # an export keeps the meaning
    load_tasks([{"name": "old", "command": "eztm_echo", "arguments": '--title "hello world"'}])
    old.refresh_from_db()
    assert old.legacy_arguments is False
    assert old.complete_args == ["--title", "hello world"]


# -- import paths ------------------------------------------------------------------------------

OLD_PATHS = [
    "eztaskmanager.services.run_management_command",
    "eztaskmanager.services.guard.job_stopped",
    "eztaskmanager.services.logger.LoggerEnabledCommand",
    "eztaskmanager.services.logger.DatabaseLogHandler",
    "eztaskmanager.services.notifications.EmailNotificationHandler",
    "eztaskmanager.services.notifications.SlackNotificationHandler",
    "eztaskmanager.services.notifications.SlackWebhookNotificationHandler",
    "eztaskmanager.services.notifications.NotificationHandler",
    "eztaskmanager.services.queues.get_task_service",
    "eztaskmanager.services.queues.RQTaskQueueService",
    "eztaskmanager.worker.TaskWorker",
]


@pytest.mark.parametrize("path", OLD_PATHS)
def test_every_old_import_path_still_resolves(path):
    assert callable(import_string(path))


def test_the_paths_stored_in_queued_jobs_are_real_functions():
    """A job queued by an older version names these; they stay functions, not shims."""
    import inspect

    from eztaskmanager.backends.base import RUN_FUNCTION, STOPPED_CALLBACK

    assert (RUN_FUNCTION, STOPPED_CALLBACK) == (
        "eztaskmanager.services.run_management_command",
        "eztaskmanager.services.guard.job_stopped",
    )
    assert inspect.isfunction(import_string(RUN_FUNCTION))
    assert import_string(STOPPED_CALLBACK) is import_string("eztaskmanager.runs.guard.job_stopped")
