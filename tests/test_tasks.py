"""Django's task API on eztaskmanager (``eztaskmanager.tasks.Backend``), run in process.

The ``immediate`` queue service runs each launch in the calling process: these tests go through
Django's own API (``enqueue``, ``get_result``, ``refresh``) and the same run path a worker
takes. ``tests/integration/test_django_tasks.py`` runs them on a real TaskWorker.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from eztaskmanager.internals import djangotasks
from eztaskmanager.models import AppCommand, LaunchReport, Task
from eztaskmanager.services import run_management_command

pytestmark = pytest.mark.skipif(
    not djangotasks.AVAILABLE, reason="needs Django 6 or the django-tasks package"
)

if djangotasks.AVAILABLE:
    from tests.testapp import tasks as functions

Status = djangotasks.TaskResultStatus


@pytest.fixture
def immediate(settings, transactional_db):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"


def test_a_call_runs_and_its_result_reads_back_through_djangos_api(immediate):
    result = functions.add.enqueue(2, b=3)
    assert result.status == Status.SUCCESSFUL  # the immediate service ran it already
    again = functions.add.get_result(result.id)
    assert (again.status, again.return_value, again.args, again.kwargs) == (
        Status.SUCCESSFUL,
        5,
        [2],
        {"b": 3},
    )
    assert again.attempts == 1 and again.errors == []
    assert again.enqueued_at <= again.started_at <= again.finished_at
    assert again.last_attempted_at == again.started_at
    [report] = LaunchReport.objects.all()
    assert (report.call_id, report.command_name, report.return_value) == (
        result.id,
        "tests.testapp.tasks.add",
        "5",
    )
    assert report.invocation_result == LaunchReport.RESULT_OK
    # What it printed and what it logged through Python's logging are the run's log.
    assert [line.split(" - ", 2)[2] for line in report.get_log_lines()] == [
        "adding 2 and 3",
        "sum is 5",
    ]


def test_each_function_gets_one_task_named_by_its_path(immediate):
    functions.add.enqueue(1)
    functions.add.enqueue(2)
    [task] = Task.objects.all()
    assert task.name == "tests.testapp.tasks.add"
    assert (task.command.name, task.command.app_name) == (
        "tests.testapp.tasks.add",
        "tests.testapp",
    )
    assert task.launchreport_set.count() == 2
    assert json.loads(task.launchreport_set.order_by("pk").last().run_arguments) == {"args": [2]}


def test_an_exception_fails_the_call_with_its_class_and_traceback(immediate):
    result = functions.fail.enqueue("no luck")
    assert result.status == Status.FAILED
    [error] = result.errors
    assert error.exception_class is ValueError
    assert "no luck" in error.traceback and error.traceback.startswith("Traceback")
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value
    report = LaunchReport.objects.get()
    assert report.invocation_result == LaunchReport.RESULT_FAILED
    assert report.failure_reason == "ValueError: no luck"
    assert any("about to fail" in line for line in report.get_log_lines())


def test_a_return_value_json_cannot_hold_fails_the_call(immediate):
    result = functions.returns_a_set.enqueue()
    assert result.status == Status.FAILED
    assert "JSON" in LaunchReport.objects.get().failure_reason


def test_a_coroutine_function_runs(immediate):
    result = functions.async_double.enqueue(21)
    assert (result.status, result.return_value) == (Status.SUCCESSFUL, 42)
    assert "doubling 21" in LaunchReport.objects.get().log_tail()


def test_a_context_gives_the_attempt_and_retries_keep_the_result_id(immediate):
    task = functions.attempt_number
    functions.add.enqueue(0)  # another function's task: not the one given retries
    function_task = Task.objects.get()
    assert function_task.name != task.module_path
    # First call: makes the task; give it retries as staff would in the admin.
    first = task.enqueue(fail_before=1)
    assert first.return_value == {"attempt": 1, "id": first.id}
    Task.objects.filter(name=task.module_path).update(max_retries=2, retry_delays="0")
    result = task.enqueue(fail_before=2)
    # The retry ran in process too: the call's result shows both attempts.
    result.refresh()
    assert result.status == Status.SUCCESSFUL
    assert result.attempts == 2
    assert result.return_value == {"attempt": 2, "id": result.id}
    [error] = result.errors
    assert error.exception_class is RuntimeError
    assert LaunchReport.objects.filter(call_id=result.id).count() == 2


def test_arguments_the_signature_refuses_are_refused_before_a_launch(immediate):
    with pytest.raises(TypeError, match="does not take these arguments"):
        functions.add.enqueue(1, 2, 3)
    with pytest.raises(TypeError, match="JSON"):
        functions.add.enqueue(object())
    assert not LaunchReport.objects.exists()


def test_a_function_keeps_the_results_of_its_last_calls(immediate, settings, make_task):
    settings.EZTASKMANAGER_N_REPORTS_INLINE = 2
    settings.EZTASKMANAGER_N_CALL_RESULTS = 4
    results = [functions.add.enqueue(i, b=1) for i in range(5)]
    with pytest.raises(djangotasks.TaskResultDoesNotExist):
        functions.add.get_result(results[0].id)
    assert [functions.add.get_result(r.id).return_value for r in results[1:]] == [2, 3, 4, 5]
    # A command's task keeps N_REPORTS_INLINE, as before.
    task = make_task("eztm_lines", "0")
    for _ in range(3):
        run_management_command(task.pk)
    assert LaunchReport.objects.filter(task=task).count() == 2


def test_an_unknown_result_id_is_said_so(immediate):
    with pytest.raises(djangotasks.TaskResultDoesNotExist):
        functions.add.get_result("nope")


def test_a_function_outside_the_project_apps_is_refused(immediate, settings):
    settings.EZTASKMANAGER_EXCLUDED_COMMANDS = ["tests.testapp.tasks.add"]
    with pytest.raises(djangotasks.InvalidTask, match="EXCLUDED_COMMANDS"):
        functions.add.enqueue(1)
    assert not LaunchReport.objects.exists()


def test_an_inactive_row_refuses_the_call(immediate):
    functions.add.enqueue(1)
    AppCommand.objects.filter(name="tests.testapp.tasks.add").update(active=False)
    with pytest.raises(djangotasks.InvalidTask, match="inactive"):
        functions.add.enqueue(1)


def test_a_forged_row_naming_no_task_function_is_refused_at_run_time(immediate, make_task):
    """A row that names a plain function of the project, a function of an app that is not
    the project's, or a module outside every app: the run refuses it, nothing is imported
    or called."""
    from eztaskmanager import operations

    for name, app in [
        ("tests.testapp.tasks.plain_function", "tests.testapp"),
        ("django.core.management.call_command", "django"),
        ("os.system", "tests.testapp"),
    ]:
        command = AppCommand.objects.create(name=name, app_name=app)
        task = Task.objects.create(name=name, command=command)
        with pytest.raises(operations.NotAllowed):
            operations.launch(task)  # refused at launch
        LaunchReport.objects.create(task=task, command=command, command_name=name)
        from eztaskmanager.runs import run_task

        report = run_task(task.pk, report_id=LaunchReport.objects.filter(task=task).get().pk)
        assert report.invocation_result == LaunchReport.RESULT_FAILED
        assert report.failure_reason == f"command not allowed: {name}"


def test_a_task_on_a_function_checks_its_json_arguments_on_save(immediate):
    functions.add.enqueue(1)
    command = AppCommand.objects.get(name="tests.testapp.tasks.add")
    task = Task(name="sum", command=command, arguments='{"args": [1], "kwargs": {"b": 2}}')
    task.full_clean()
    for text, message in [
        ('{"args": [1, 2, 3]}', "does not take these arguments"),
        ("[1]", "JSON object"),
        ('{"argz": []}', "Unknown keys"),
        ("{", "not valid JSON"),
    ]:
        task.arguments = text
        with pytest.raises(ValidationError, match=message):
            task.full_clean()


def test_a_scheduled_or_admin_launch_of_a_function_task_has_a_result_too(immediate):
    from eztaskmanager import operations

    functions.add.enqueue(1)
    command = AppCommand.objects.get(name="tests.testapp.tasks.add")
    task = Task.objects.create(name="sum", command=command, arguments='{"args": [4, 5]}')
    operations.launch(task)
    report = LaunchReport.objects.filter(task=task).get()
    assert report.call_id and report.return_value == "9"
    assert functions.add.get_result(report.call_id).return_value == 9


def test_signals_fire_for_enqueue_start_and_finish(immediate):
    seen = []

    def receiver(name):
        return lambda sender, task_result, **kwargs: seen.append((name, task_result.status))

    receivers = {
        name: receiver(name) for name in ("task_enqueued", "task_started", "task_finished")
    }
    for name, function in receivers.items():
        getattr(djangotasks, name).connect(function)
    try:
        functions.add.enqueue(1)
    finally:
        for name, function in receivers.items():
            getattr(djangotasks, name).disconnect(function)
    assert seen == [
        ("task_started", Status.RUNNING),
        ("task_finished", Status.SUCCESSFUL),
        ("task_enqueued", Status.SUCCESSFUL),  # in process, the run is over when it returns
    ]


def test_the_capability_flags_are_what_the_backend_does():
    backend = djangotasks.task_backends["default"]
    assert (
        backend.supports_get_result,
        backend.supports_async_task,
        backend.supports_defer,
        backend.supports_priority,
    ) == (True, True, True, False)
    with pytest.raises(djangotasks.InvalidTask):
        functions.add.using(priority=5)


def test_collectcommands_offers_the_task_functions_of_the_project_apps(immediate):
    from eztaskmanager.operations.commands import collect_commands

    added = collect_commands(exclude_core=True)["added"]
    assert "tests.testapp.tasks.add" in added and "tests.testapp.tasks.on_high" in added
    assert "tests.testapp.tasks.plain_function" not in added  # not a @task function
    row = AppCommand.objects.get(name="tests.testapp.tasks.add")
    assert (row.app_name, row.active) == ("tests.testapp", True)
    again = collect_commands(exclude_core=True)
    assert "tests.testapp.tasks.add" in again["unchanged"] and not again["deactivated"]
    # A call still runs after a collect.
    assert functions.add.enqueue(1, b=1).return_value == 2


def test_a_tasks_queue_rq_does_not_define_is_a_system_check_warning(settings, db):
    from django.core.checks import run_checks

    settings.TASKS = {
        "default": {"BACKEND": "eztaskmanager.tasks.Backend", "QUEUES": ["default", "nowhere"]}
    }
    errors = [error for error in run_checks() if error.id == "eztaskmanager.W041"]
    assert [error.msg for error in errors] == [
        "TASKS['default'] names queue 'nowhere', which is not in RQ_QUEUES."
    ]


def test_tasks_as_code_names_a_function_with_json_arguments(immediate):
    from eztaskmanager.cli.tasks_as_code import DeclarationError, load_tasks

    load_tasks(
        [{"name": "sum", "command": "tests.testapp.tasks.add", "arguments": '{"args": [1]}'}]
    )
    task = Task.objects.get(name="sum")
    assert (task.command.name, task.command.app_name) == (
        "tests.testapp.tasks.add",
        "tests.testapp",
    )
    with pytest.raises(DeclarationError, match="not a function decorated with @task"):
        load_tasks([{"name": "plain", "command": "tests.testapp.tasks.plain_function"}])
    with pytest.raises(DeclarationError, match="does not take these arguments"):
        load_tasks([{"name": "bad", "command": "tests.testapp.tasks.add", "arguments": "{}"}])


def test_the_report_page_shows_what_the_call_returned_or_raised(immediate, admin_client):
    from django.urls import reverse

    functions.add.enqueue(2, b=3)
    functions.fail.enqueue("<b>bold</b>")
    ok, failed = LaunchReport.objects.order_by("pk")
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[ok.pk]))
    assert page.status_code == 200
    assert "tests.testapp.tasks.add" in page.text and ">5<" in page.text.replace(" ", "")
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[failed.pk]))
    assert "builtins.ValueError" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text


def test_a_function_records_its_progress(immediate):
    result = functions.count_lines.enqueue(3, pause=0)
    assert result.return_value == 3
    report = LaunchReport.objects.get()
    assert (report.progress_done, report.progress_total) == (3, 3)


def test_aenqueue_and_aget_result(immediate):
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    async def call():
        result = await functions.add.aenqueue(20, b=1)
        again = await functions.add.aget_result(result.id)
        await result.arefresh()
        # The calls ran in asgiref's thread: its connection is closed there, as at the end of
        # a request (left open, it kept the test database from being dropped).
        await sync_to_async(connections.close_all)()
        return result, again

    result, again = asyncio.run(call())
    assert (result.status, again.return_value) == (Status.SUCCESSFUL, 21)


def test_priorities_map_onto_queues_when_the_backend_says_how(immediate, settings):
    settings.TASKS = {
        "default": {"BACKEND": "eztaskmanager.tasks.Backend"},
        "ranked": {
            "BACKEND": "eztaskmanager.tasks.Backend",
            "OPTIONS": {"PRIORITY_QUEUES": [[10, "high"], [-10, "default"], [-100, "low"]]},
        },
    }
    backend = djangotasks.task_backends["ranked"]
    assert backend.supports_priority
    for priority, queue in [(50, "high"), (10, "high"), (0, "default"), (-50, "low")]:
        result = functions.add.using(backend="ranked", priority=priority).enqueue(1)
        assert LaunchReport.objects.get(call_id=result.id).queue == queue, priority
    assert not djangotasks.task_backends["default"].supports_priority


def test_a_bad_priority_map_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    for value in ([[-10, "low"], [10, "high"]], [["x", "high"]], [[1, "a"], [1, "b"]]):
        settings.TASKS = {
            "default": {
                "BACKEND": "eztaskmanager.tasks.Backend",
                "OPTIONS": {"PRIORITY_QUEUES": value},
            }
        }
        with pytest.raises(ImproperlyConfigured, match="PRIORITY_QUEUES"):
            djangotasks.task_backends["default"]


def test_an_enqueue_costs_two_queries_and_no_admin_history(transactional_db, real_redis):
    """Once the function's task exists (and is queued already): find it, record the launch. A
    call leaves no admin-history line (its report records it)."""
    from django.contrib.admin.models import LogEntry
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    functions.add.enqueue(1)
    with CaptureQueriesContext(connection) as queries:
        result = functions.add.enqueue(2)
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert statements == ["SELECT", "INSERT"], queries.captured_queries
    assert result.status == Status.READY
    assert not LogEntry.objects.exists()
