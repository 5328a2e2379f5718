"""Run now with other arguments, once: operations, the admin launch URL, the CLI, the report."""

from __future__ import annotations

import io

import fakeredis
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse
from rq import Queue

from eztaskmanager import operations
from eztaskmanager.backends.rq import RQBackend
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.operations import audit
from eztaskmanager.services import run_management_command
from tests.admin.test_admin import (
    EDITOR,
    LAUNCHER,
    change_url,
    fake_queue,
    messages_of,
    staff_client,
)

pytestmark = pytest.mark.django_db
__all__ = ["fake_queue", "staff_client"]  # fixtures used here


def launch_url(task) -> str:
    return reverse("admin:eztaskmanager_task_launch", args=[task.pk])


def messages_logged(report) -> list[str]:
    return list(report.logs.order_by("lineno").values_list("message", flat=True))


@pytest.fixture
def immediate(settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"


def test_a_run_with_its_own_arguments_leaves_the_task_unchanged(make_task, immediate):
    task = make_task("eztm_echo", "a, --count 1", name="echo")
    outcome = operations.launch(task, arguments='b c, --title "x, y", --shout')
    report = outcome.report
    assert "items=['b', 'c']" in messages_logged(report)
    assert "title='x, y'" in messages_logged(report)
    assert "count=0 shout=True" in messages_logged(report)
    assert report.arguments == 'b c, --title "x, y", --shout'
    task.refresh_from_db()
    assert task.arguments == "a, --count 1"
    history = [entry.change_message for entry in audit.history(task)]
    assert history == ["Launched once with the arguments 'b c, --title \"x, y\", --shout'"]
    # The next plain launch uses the task's own arguments again, and records none.
    plain = operations.launch(task).report
    assert plain.arguments is None and "items=['a']" in messages_logged(plain)


def test_empty_arguments_run_the_command_without_any(make_task, immediate):
    task = make_task("eztm_echo", "a, --count 1")
    report = operations.launch(task, arguments="").report
    assert report.arguments == ""
    assert "items=[]" in messages_logged(report) and "count=0 shout=False" in messages_logged(
        report
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("--count many", "argument --count: invalid int value: 'many'"),
        ("--help", "--help and --version are not task arguments"),
        ("--vers", "--help and --version are not task arguments"),
        ('--title "open', "No closing quotation"),
    ],
)
def test_arguments_the_command_refuses_launch_nothing(make_task, fake_backend, text, message):
    task = make_task("eztm_echo")
    with pytest.raises(operations.BadArguments, match=message):
        operations.launch(task, fake_backend, defer=False, arguments=text)
    assert fake_backend.queue.count == 0
    assert audit.history(task) == []


def test_the_job_carries_the_arguments_and_the_worker_runs_with_them(make_task):
    task = make_task("eztm_echo", "own", name="queued echo")
    backend = RQBackend(connection=fakeredis.FakeRedis())
    outcome = operations.launch(task, backend, defer=False, arguments="given, --count 7")
    [job] = Queue("default", connection=backend.connection).jobs
    assert job.id == outcome.job_id
    queued = LaunchReport.objects.get(pk=job.kwargs["report_id"])  # the durable launch
    assert job.kwargs == {"report_id": queued.pk, "arguments": "given, --count 7"}
    assert queued.arguments == "given, --count 7"
    report = job.func(*job.args, **job.kwargs)  # what the worker calls
    assert report.arguments == "given, --count 7"
    assert "items=['given']" in messages_logged(report)
    assert "count=7 shout=False" in messages_logged(report)


def test_a_job_queued_without_the_new_keywords_still_runs_the_task_as_it_is(make_task):
    task = make_task("eztm_echo", "own")
    report = run_management_command(task.pk, scheduled=False, attempt=1)  # a 0.6.0 job's call
    assert report.arguments is None and report.triggered_by is None
    assert "items=['own']" in messages_logged(report)


def test_exiting_options_are_refused_at_run_time_too(make_task):
    """A job written by hand (or by an older version) cannot make the command print and exit."""
    task = make_task("eztm_echo")
    report = run_management_command(task.pk, arguments="--help")
    assert report.invocation_result == LaunchReport.RESULT_FAILED
    assert "--help and --version are not task arguments" in report.failure_reason


def test_the_command_policy_applies_to_a_run_with_other_arguments(make_task, fake_backend):
    task = make_task("eztm_echo")
    Task.objects.filter(pk=task.pk).update(name="refused")
    task.command.name, task.command.app_name = "dumpdata", "django.core"
    task.command.save()
    with pytest.raises(operations.NotAllowed):
        operations.launch(task, fake_backend, defer=False, arguments="x")
    assert fake_backend.queue.count == 0


def test_a_retry_keeps_the_arguments_of_its_run(make_task, immediate):
    task = make_task("eztm_lines", "1", max_retries=1, retry_delays="0")
    report = operations.launch(task, arguments="2, --fail-at 1").report
    retry = LaunchReport.objects.filter(task=task).order_by("-pk").first()
    assert report.invocation_result == "failed"
    assert retry.pk != report.pk and retry.attempt == 2
    assert retry.arguments == "2, --fail-at 1" and retry.invocation_result == "failed"


# -- the admin ---------------------------------------------------------------------------------


def test_the_task_page_offers_the_form_prefilled_with_the_task_arguments(admin_client, make_task):
    task = make_task("eztm_echo", '--title "<b>x</b>"')
    body = admin_client.get(change_url(task)).content.decode()
    assert '<form method="post" id="eztm-run-once" hidden action="' + launch_url(task) in body
    assert 'name="arguments" form="eztm-run-once"' in body
    assert "--title &quot;&lt;b&gt;x&lt;/b&gt;&quot;</textarea>" in body
    assert "Log back the arguments it received" in body  # the command's --help


def test_admin_post_with_arguments_runs_once(admin_client, make_task, immediate):
    task = make_task("eztm_echo", "own", name="echo")
    response = admin_client.post(launch_url(task), {"arguments": "other, --count 2"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["“echo” ran: warnings."]
    report = LaunchReport.objects.get(task=task)
    assert report.arguments == "other, --count 2"
    assert "items=['other']" in messages_logged(report)
    task.refresh_from_db()
    assert task.arguments == "own"


def test_admin_post_with_invalid_arguments_is_a_message(admin_client, make_task, fake_queue):
    task = make_task("eztm_echo", name="echo")
    response = admin_client.post(launch_url(task), {"arguments": "--count many"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "“echo” was not launched: argument --count: invalid int value: 'many'"
    ]
    response = admin_client.post(launch_url(task), {"arguments": "x" * 10_001}, follow=True)
    assert messages_of(response) == ["Arguments longer than 10000 characters are not accepted."]
    assert fake_queue.queue.count == 0


def test_admin_post_with_arguments_takes_the_launch_permission_and_csrf(
    staff_client, make_task, fake_queue, admin_user
):
    task = make_task("eztm_echo")
    editor = staff_client(*EDITOR)
    assert editor.post(launch_url(task), {"arguments": "x"}).status_code == 403
    assert 'id="eztm-run-once"' not in editor.get(change_url(task)).content.decode()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(launch_url(task), {"arguments": "x"}).status_code == 403
    assert fake_queue.queue.count == 0
    launcher = staff_client(*LAUNCHER)
    assert launcher.post(launch_url(task), {"arguments": "x"}).status_code == 302
    [job] = fake_queue.queue.jobs
    queued = LaunchReport.objects.get(pk=job.kwargs["report_id"])  # the durable launch
    assert job.kwargs == {"report_id": queued.pk, "arguments": "x"}
    assert queued.arguments == "x"


def test_the_report_page_and_log_viewer_show_the_arguments(admin_client, make_task, immediate):
    task = make_task("eztm_echo", "own")
    report = operations.launch(task, arguments="<i>other</i>").report
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[report.pk]))
    assert "<code>&lt;i&gt;other&lt;/i&gt;</code>" in page.content.decode()
    viewer = admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk]))
    body = viewer.content.decode()
    assert "eztm_echo &lt;i&gt;other&lt;/i&gt;</code>" in body
    assert "run once with these arguments" in body
    plain = operations.launch(task).report
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[plain.pk]))
    assert "the task&#x27;s own" in page.content.decode()


# -- the command line --------------------------------------------------------------------------


def taskmanager(*args) -> str:
    out = io.StringIO()
    call_command("taskmanager", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cli_run_with_args_queues_one_run_with_them(make_task, real_redis, committed):
    task = make_task("eztm_echo", "own", name="echo")
    with committed():
        output = taskmanager("run", "echo", "--args", "given, --shout")
    assert output.startswith(f"Queued 'echo' (task {task.pk}) for a worker")
    [job] = Queue("default", connection=real_redis).jobs
    queued = LaunchReport.objects.get(pk=job.kwargs["report_id"])  # the durable launch
    assert job.kwargs == {"report_id": queued.pk, "arguments": "given, --shout"}
    assert queued.arguments == "given, --shout"


def test_cli_run_sync_with_args_runs_here_with_them(make_task, real_redis):
    task = make_task("eztm_echo", "own", name="echo")
    output = taskmanager("run", "echo", "--sync", "--args", "given, --count 3")
    report = LaunchReport.objects.get(task=task)
    assert report.arguments == "given, --count 3"
    assert "items=['given']" in output and "count=3 shout=False" in output
    task.refresh_from_db()
    assert task.arguments == "own"
    assert audit.history(task)[-1].change_message == (
        "Launched once with the arguments 'given, --count 3' in the foreground from the "
        "command line"
    )


@pytest.mark.parametrize("sync", [False, True])
def test_cli_run_with_bad_args_is_a_clear_error(make_task, real_redis, sync):
    make_task("eztm_echo", name="echo")
    args = ["run", "echo", "--args", "--count many"] + (["--sync"] if sync else [])
    with pytest.raises(CommandError, match="'echo' was not launched: argument --count"):
        taskmanager(*args)
    assert LaunchReport.objects.count() == 0
    assert Queue("default", connection=real_redis).count == 0


@override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate")
def test_a_report_without_arguments_keeps_showing_the_task_arguments(admin_client, make_task):
    task = make_task("eztm_echo", "own")
    report = operations.launch(task).report
    body = admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk])).content
    assert b"eztm_echo own</code>" in body and b"run once with these arguments" not in body
