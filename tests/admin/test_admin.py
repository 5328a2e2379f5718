"""Admin: task list and form, launch / stop / schedule, reports, commands, categories."""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta

import fakeredis
import pytest
import redis
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from eztaskmanager import operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import AppCommand, LaunchReport, Log, Task, TaskCategory
from tests import factories
from tests.factories import (  # noqa: F401 - EDITOR, LAUNCHER: imported from here
    EDITOR,
    LAUNCHER,
    finished_report,
    make_report,
    running_report,
)

pytestmark = pytest.mark.django_db

XSS = '<script>alert("eztm")</script>'
XSS_ESCAPED = "&lt;script&gt;alert(&quot;eztm&quot;)&lt;/script&gt;"


# -- backends the admin is pointed at (through EZTASKMANAGER_QUEUE_SERVICE_TYPE) --------------


class FakeRedisBackend(RQBackend):
    """The RQ backend on an in-process fakeredis server (one per test)."""

    redis = None  # set by the fake_queue fixture

    def __init__(self, queue_name=None):
        super().__init__(queue_name, connection=FakeRedisBackend.redis)


class ClosedPortBackend(RQBackend):
    """The RQ backend with a real Redis client pointed at a port nobody listens on."""

    port = 0

    def __init__(self, queue_name=None):
        client = redis.Redis(
            port=ClosedPortBackend.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        super().__init__(queue_name, connection=client)


@pytest.fixture
def fake_queue():
    FakeRedisBackend.redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    with override_settings(
        EZTASKMANAGER_QUEUE_SERVICE_TYPE="tests.admin.test_admin.FakeRedisBackend"
    ):
        yield FakeRedisBackend()


@pytest.fixture
def redis_down():
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        ClosedPortBackend.port = sock.getsockname()[1]
    with override_settings(
        EZTASKMANAGER_QUEUE_SERVICE_TYPE="tests.admin.test_admin.ClosedPortBackend"
    ):
        yield


# -- users -------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(db):
    """A client logged in as a staff user holding exactly the given permissions (the users
    are staff0, staff1, ... in each test)."""
    counter = iter(range(1000))
    return lambda *codenames: factories.staff_client(*codenames, username=f"staff{next(counter)}")


def changelist_url(model="task"):
    return reverse(f"admin:eztaskmanager_{model}_changelist")


def change_url(obj, model="task"):
    return reverse(f"admin:eztaskmanager_{model}_change", args=[obj.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def add_report(task, result="ok", lines=(), **fields):
    """A finished report of ``task`` with the given log lines (level, message)."""
    return finished_report(task, result, lines, **fields)


def form_data(client, url, **changes) -> dict:
    """The POST data of the admin form at ``url`` as it is shown, with ``changes``."""
    form = client.get(url).context["adminform"].form
    data = {
        "launchreport_set-TOTAL_FORMS": "0",
        "launchreport_set-INITIAL_FORMS": "0",
        "launchreport_set-MIN_NUM_FORMS": "0",
        "launchreport_set-MAX_NUM_FORMS": "0",
    }
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, datetime):
            data.update(local_fields(value, name))
        elif value is True:
            data[name] = "on"
        elif value is not None and value is not False:
            data[name] = str(value)
    if "scheduling" in changes:
        data.update(local_fields(changes.pop("scheduling")))
    data.update(changes)
    return data


def local_fields(when, name="scheduling") -> dict:
    if when is None:
        return {f"{name}_0": "", f"{name}_1": ""}
    local = timezone.localtime(when)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


# -- task changelist ---------------------------------------------------------------------------


def test_changelist_columns(admin_client, make_task):
    category = TaskCategory.objects.create(name="nightly")
    task = make_task(
        "eztm_echo",
        "a, --title x",
        name="Echo it",
        note="used by the night shift",
        category=category,
        repetition_period="hour",
        repetition_rate=2,
        scheduling=timezone.now() + timedelta(hours=1),
    )
    report = add_report(task, "warnings", [("WARNING", "careful")])
    make_task("eztm_lines", "2")  # a second command: the command filter has a choice to offer
    response = admin_client.get(changelist_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert 'title="Echo it\nused by the night shift">Echo it</span>' in body
    assert 'title="eztm_echo a, --title x">eztm_echo a, --title x</code>' in body
    assert "every 2 hours" in body
    assert reverse("eztaskmanager:log_viewer", args=[report.pk]) in body
    assert "eztm-result-warnings" in body
    for name in ("status", "cached_last_invocation_result", "category__id__exact", "command__id"):
        assert name in body  # the four filters
    assert 'value="launch_tasks"' in body and 'value="stop_tasks"' in body


def test_log_links_can_be_hidden(admin_client, make_task):
    report = add_report(make_task(name="quiet links"), "ok", [("INFO", "x")])
    viewer = reverse("eztaskmanager:log_viewer", args=[report.pk])
    assert viewer in admin_client.get(changelist_url()).content.decode()
    with override_settings(EZTASKMANAGER_SHOW_LOGVIEWER_LINK=False):
        for page in (changelist_url(), change_url(report.task), changelist_url("launchreport")):
            body = admin_client.get(page).content.decode()
            assert f'href="{viewer}"' not in body
            assert "eztm-result-ok" in body


def test_changelist_search(admin_client, make_task):
    make_task(name="alpha", note="finds the needle")
    make_task(name="beta")
    body = admin_client.get(changelist_url(), {"q": "needle"}).content.decode()
    assert ">alpha<" in body and ">beta<" not in body


def make_many_tasks(make_command, n):
    command = make_command("eztm_echo")
    category = TaskCategory.objects.create(name=f"category of {n}")
    tasks = Task.objects.bulk_create(
        Task(name=f"task {i}", command=command, category=category, note=f"note {i}")
        for i in range(n)
    )
    reports = LaunchReport.objects.bulk_create(
        LaunchReport(task=task, invocation_result="ok", n_lines=1) for task in tasks
    )
    Log.objects.bulk_create(
        Log(launch_report=report, level="INFO", message="done", lineno=1) for report in reports
    )
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
        cached_last_invocation_result="ok", cached_last_invocation_datetime=timezone.now()
    )


def count_queries(client, url) -> int:
    client.get(url)  # warm up the per-process caches (content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_task_changelist_query_count_does_not_grow_with_rows(admin_client, make_command):
    make_many_tasks(make_command, 10)
    few = count_queries(admin_client, changelist_url())
    make_many_tasks(make_command, 190)
    many = count_queries(admin_client, changelist_url())
    assert few == many
    # and every row got its columns
    body = admin_client.get(changelist_url()).content.decode()
    assert body.count("eztm-result-ok") == 100  # one page


def test_task_change_page_query_count_does_not_grow_with_reports(admin_client, make_task):
    def task_with_reports(n):
        task = make_task("eztm_lines", "3", name=f"task with {n} reports")
        for i in range(n):
            add_report(task, "ok", [("INFO", f"report {i} line {j}") for j in range(15)])
        return task

    small = task_with_reports(3)
    large = task_with_reports(200)
    few = count_queries(admin_client, change_url(small))
    many = count_queries(admin_client, change_url(large))
    assert few == many
    body = admin_client.get(change_url(large)).content.decode()
    # the inline shows the latest 10 reports, each with the tail of its log (10 lines)
    assert body.count('<pre class="eztm-tail">') == 10
    assert "report 199 line 14" in body and "report 199 line 4" not in body
    assert "5 lines hidden ..." in body
    assert body.count("<rect ") == 30  # run history: the latest 30 runs


def test_report_changelist_query_count_does_not_grow_with_rows(admin_client, make_command):
    make_many_tasks(make_command, 10)
    few = count_queries(admin_client, changelist_url("launchreport"))
    make_many_tasks(make_command, 190)
    many = count_queries(admin_client, changelist_url("launchreport"))
    assert few == many


def test_category_change_page_query_count_does_not_grow_with_tasks(admin_client, make_command):
    make_many_tasks(make_command, 10)
    make_many_tasks(make_command, 200)
    small, large = TaskCategory.objects.order_by("id")
    assert count_queries(admin_client, change_url(small, "taskcategory")) == count_queries(
        admin_client, change_url(large, "taskcategory")
    )


# -- escaping ----------------------------------------------------------------------------------


def test_user_and_log_text_is_escaped_on_every_admin_page(admin_client, make_task):
    category = TaskCategory.objects.create(name=XSS)
    task = make_task("eztm_echo", f"'{XSS}'", name=XSS, note=XSS, category=category)
    report = add_report(task, "errors", [("ERROR", XSS), ("INFO", "plain")])
    running = make_report(task, progress_done=3, progress_total=10)
    pages = [
        changelist_url(),
        change_url(task),
        changelist_url("launchreport"),
        change_url(report, "launchreport"),
        change_url(running, "launchreport"),
        changelist_url("taskcategory"),
        change_url(category, "taskcategory"),
    ]
    for url in pages:
        body = admin_client.get(url).content.decode()
        assert XSS not in body, url
        assert XSS_ESCAPED in body or "&lt;script&gt;" in body, url


# -- launch and stop ---------------------------------------------------------------------------


def test_launch_action_queues_the_tasks(admin_client, make_task, fake_queue):
    first, second = make_task(name="first"), make_task(name="second")
    response = admin_client.post(
        changelist_url(),
        {"action": "launch_tasks", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert fake_queue.queue.count == 2
    assert sorted(job.args for job in fake_queue.queue.jobs) == [(first.pk,), (second.pk,)]
    assert "Queued for a worker: “second”, “first”." in messages_of(response) or (
        "Queued for a worker: “first”, “second”." in messages_of(response)
    )
    first.refresh_from_db()
    assert first.status == Task.STATUS_SPOOLED


def test_launch_with_the_immediate_service_reports_the_result(admin_client, make_task):
    task = make_task("eztm_lines", "2, --level warning", name="warner")
    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate"):
        response = admin_client.post(
            reverse("admin:eztaskmanager_task_launch", args=[task.pk]), follow=True
        )
    assert messages_of(response) == ["“warner” ran: warnings."]
    assert task.launchreport_set.get().invocation_result == "warnings"


def test_stop_action_unschedules_and_stops_runs(admin_client, make_task, fake_queue):
    scheduled = make_task(name="scheduled", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(scheduled, fake_queue, defer=False)
    operations.launch(scheduled, fake_queue, defer=False)  # a queued run is dropped too
    busy = make_task(name="busy")
    run = running_report(busy)
    response = admin_client.post(
        changelist_url(),
        {"action": "stop_tasks", "_selected_action": [scheduled.pk, busy.pk]},
        follow=True,
    )
    assert fake_queue.scheduler.count() == 0 and fake_queue.queue.count == 0
    scheduled.refresh_from_db()
    assert scheduled.status == Task.STATUS_IDLE and scheduled.scheduled_job_id is None
    run.refresh_from_db()
    assert (run.invocation_result, run.failure_reason) == ("failed", "stopped by admin")
    assert sorted(messages_of(response)) == [
        "“busy” is stopped (its schedule, if any, is paused) and its running run was asked to "
        "stop; its report ends “stopped by admin”.",
        "“scheduled” is stopped (its schedule, if any, is paused); it had no running run.",
    ]


def test_buttons_launch_and_stop(admin_client, make_task, fake_queue):
    task = make_task(name="buttons", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_queue, defer=False)
    body = admin_client.get(change_url(task)).content.decode()
    launch_url = reverse("admin:eztaskmanager_task_launch", args=[task.pk])
    stop_url = reverse("admin:eztaskmanager_task_stop", args=[task.pk])
    assert f'action="{launch_url}"' in body and f'action="{stop_url}"' in body

    response = admin_client.post(launch_url)
    assert response.status_code == 302 and response["Location"] == change_url(task)
    assert fake_queue.queue.count == 1
    assert messages_of(admin_client.get(response["Location"])) == [
        "Queued for a worker: “buttons”."
    ]

    response = admin_client.post(stop_url, follow=True)
    assert messages_of(response) == [
        "“buttons” is stopped (its schedule, if any, is paused); it had no running run."
    ]
    assert fake_queue.scheduler.count() == 0


def test_buttons_take_post_with_csrf_token(make_task, fake_queue, admin_user):
    task = make_task()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = reverse("admin:eztaskmanager_task_launch", args=[task.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403  # no CSRF token
    assert fake_queue.queue.count == 0


def test_launching_takes_the_launch_permission(staff_client, make_task, fake_queue):
    task = make_task(name="guarded", scheduling=timezone.now() + timedelta(hours=1))
    operations.schedule(task, fake_queue, defer=False)
    editor = staff_client(*EDITOR)

    changelist = editor.get(changelist_url()).content.decode()
    assert "launch_tasks" not in changelist and "stop_tasks" not in changelist
    change_page = editor.get(change_url(task)).content.decode()
    assert "/launch/" not in change_page and "/stop/" not in change_page

    for name in ("launch", "stop"):
        url = reverse(f"admin:eztaskmanager_task_{name}", args=[task.pk])
        assert editor.post(url).status_code == 403
    response = editor.post(
        changelist_url(), {"action": "launch_tasks", "_selected_action": [task.pk]}, follow=True
    )
    assert response.status_code == 200
    response = editor.post(
        changelist_url(), {"action": "stop_tasks", "_selected_action": [task.pk]}, follow=True
    )
    assert response.status_code == 200
    assert fake_queue.queue.count == 0
    assert fake_queue.scheduler.count() == 1
    task.refresh_from_db()
    assert task.status == Task.STATUS_SCHEDULED

    launcher = staff_client(*LAUNCHER)
    assert "launch_tasks" in launcher.get(changelist_url()).content.decode()
    launcher.post(reverse("admin:eztaskmanager_task_launch", args=[task.pk]))
    assert fake_queue.queue.count == 1


def test_redis_down_gives_a_message_not_a_500(admin_client, make_task, redis_down):
    task = make_task(name="offline")
    for response in (
        admin_client.post(
            changelist_url(), {"action": "launch_tasks", "_selected_action": [task.pk]}, follow=True
        ),
        admin_client.post(reverse("admin:eztaskmanager_task_launch", args=[task.pk]), follow=True),
    ):
        assert response.status_code == 200
        [message] = messages_of(response)
        assert message.startswith("“offline” was not launched: The task queue (Redis at ")
        assert f":{ClosedPortBackend.port}) is not reachable" in message
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE
    # The history holds no launch: the queue refused it, nothing was launched.
    from eztaskmanager.operations import audit

    assert [e.change_message for e in audit.history(task)] == []
    assert not LaunchReport.objects.filter(task=task).exists()


def test_redis_down_action_gives_up_after_the_first_task(admin_client, make_task, redis_down):
    first, second = make_task(name="first"), make_task(name="second")
    response = admin_client.post(
        changelist_url(),
        {"action": "launch_tasks", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    failed, not_tried = messages_of(response)
    assert "was not launched: The task queue (Redis at" in failed
    assert not_tried in (
        "Not tried, as the queue cannot be reached: “first”.",
        "Not tried, as the queue cannot be reached: “second”.",
    )


def test_redis_down_when_saving_a_schedule(admin_client, make_task, redis_down):
    task = make_task(name="offline")
    data = form_data(admin_client, change_url(task), scheduling=timezone.now() + timedelta(hours=1))
    response = admin_client.post(change_url(task), data, follow=True)
    assert response.status_code == 200
    assert any(
        m.startswith("“offline” was saved, but its schedule was not applied: The task queue")
        for m in messages_of(response)
    )
    task.refresh_from_db()
    assert task.scheduling is not None and task.status == Task.STATUS_IDLE


# -- the task form -----------------------------------------------------------------------------


def test_invalid_arguments_show_the_parser_message_on_the_field(admin_client, make_task):
    task = make_task("eztm_echo")
    response = admin_client.post(
        change_url(task), form_data(admin_client, change_url(task), arguments="--count many")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["arguments"] == ["argument --count: invalid int value: 'many'"]
    assert "argument --count: invalid int value: &#x27;many&#x27;" in response.content.decode()
    task.refresh_from_db()
    assert task.arguments == ""


def test_change_form_shows_the_command_help(admin_client, make_task, make_command):
    task = make_task("eztm_echo")
    body = admin_client.get(change_url(task)).content.decode()
    assert "Log back the arguments it received" in body and "--shout" in body

    lines = make_command("eztm_lines")
    help_url = reverse("admin:eztaskmanager_task_command_help")
    response = admin_client.get(help_url, {"command": lines.pk})
    assert response["Content-Type"].startswith("text/plain")
    assert "--fail-at" in response.content.decode()
    nothing = admin_client.get(help_url, {"command": "not-a-number"})
    assert nothing.content.decode() == "Choose a command to see its arguments."


def test_command_help_needs_task_permissions(staff_client, make_command):
    command = make_command("eztm_echo")
    url = reverse("admin:eztaskmanager_task_command_help")
    assert staff_client("view_launchreport").get(url, {"command": command.pk}).status_code == 403


def test_saving_a_schedule_schedules_and_clearing_it_unschedules(
    admin_client, make_command, fake_queue
):
    command = make_command("eztm_echo")
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    add_url = reverse("admin:eztaskmanager_task_add")
    data = form_data(
        admin_client,
        add_url,
        name="nightly",
        command=command.pk,
        scheduling=when,
        repetition_period="day",
        repetition_rate="1",
    )
    response = admin_client.post(add_url, data, follow=True)
    task = Task.objects.get(name="nightly")
    assert task.status == Task.STATUS_SCHEDULED and task.cached_next_ride == when
    assert [job.id for job in fake_queue.scheduler.get_jobs()] == [task.scheduled_job_id]
    assert any(m.startswith("“nightly” is scheduled; next run at") for m in messages_of(response))

    response = admin_client.post(
        change_url(task),
        form_data(
            admin_client,
            change_url(task),
            scheduling=None,
            repetition_period="",
            repetition_rate="",
        ),
        follow=True,
    )
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE and task.scheduled_job_id is None
    assert fake_queue.scheduler.count() == 0
    assert "“nightly” is no longer scheduled." in messages_of(response)


def test_saving_without_schedule_change_leaves_the_queue_alone(admin_client, make_task, fake_queue):
    task = make_task(name="quiet")
    admin_client.post(change_url(task), form_data(admin_client, change_url(task), note="new note"))
    task.refresh_from_db()
    assert task.note == "new note"
    assert fake_queue.scheduler.count() == 0 and fake_queue.queue.count == 0


def test_scheduling_in_the_past_is_a_message(admin_client, make_task, fake_queue):
    task = make_task(name="late")
    data = form_data(admin_client, change_url(task), scheduling=timezone.now() - timedelta(hours=1))
    response = admin_client.post(change_url(task), data, follow=True)
    assert response.status_code == 200
    assert (
        "“late” was saved, but its schedule was not applied: "
        "It is not possible to schedule tasks in the past." in messages_of(response)
    )


def test_the_schedule_is_read_only_without_launch_permission(staff_client, make_task, fake_queue):
    task = make_task(name="editable")
    editor = staff_client(*EDITOR)
    response = editor.get(change_url(task))
    form = response.context["adminform"].form
    assert "arguments" in form.fields and "scheduling" not in form.fields
    data = form_data(editor, change_url(task), note="edited")
    data.update(local_fields(timezone.now() + timedelta(hours=1)))
    assert editor.post(change_url(task), data).status_code == 302
    task.refresh_from_db()
    assert task.note == "edited" and task.scheduling is None
    assert fake_queue.scheduler.count() == 0


def test_reports_inline_and_run_history(admin_client, make_task):
    task = make_task("eztm_lines", "3", name="history")
    add_report(task, "ok", [("INFO", "fine")], duration=2.0)
    add_report(task, "failed", [("ERROR", "broke")], duration=1.0)
    running_report(task, heartbeat=False, progress_done=25, progress_total=100)
    body = admin_client.get(change_url(task)).content.decode()
    assert '<progress class="eztm-progress" value="25" max="100"></progress> 25 / 100 (25%)' in body
    assert "INFO - fine" in body and "ERROR - broke" in body
    assert body.count('class="eztm-bar-ok"') == 1
    assert body.count('class="eztm-bar-failed"') == 1
    assert body.count('class="eztm-bar-running"') == 1
    assert 'height="60.0"' in body  # the longest run fills the chart
    assert re.search(r'<td class="field-run_duration">\s*<p>2.0</p>', body)


def test_saving_a_task_whose_runs_changed_since_the_form_was_shown(admin_client, make_task):
    """The reports inline is read-only: posting it back, even out of date, changes nothing."""
    task = make_task("eztm_lines", "3", name="busy")
    for _ in range(10):
        add_report(task, "ok", [("INFO", "done")])
    response = admin_client.get(change_url(task))
    [reports] = [
        f.formset
        for f in response.context["inline_admin_formsets"]
        if f.formset.model is LaunchReport
    ]
    data = form_data(admin_client, change_url(task), note="edited while running")
    data.update(
        {
            f"{reports.prefix}-{name}": value
            for name, value in reports.management_form.initial.items()
        }
    )
    for index, form in enumerate(reports.forms):
        data[f"{reports.prefix}-{index}-id"] = form.instance.pk
    add_report(task, "errors", [("ERROR", "a newer run")])  # pushes the oldest out of the inline
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.note == "edited while running"
    assert task.launchreport_set.count() == 11


# -- reports, commands, categories -------------------------------------------------------------


def test_report_admin_is_read_only(admin_client, make_task):
    task = make_task(name="reported")
    report = add_report(task, "ok", [("INFO", "one"), ("INFO", "two")])
    changelist = admin_client.get(changelist_url("launchreport")).content.decode()
    assert '<nav class="toplinks"' in changelist  # the date hierarchy
    assert "?invocation_result__exact=ok" in changelist  # a filter
    assert "delete_selected" not in changelist
    assert admin_client.get(reverse("admin:eztaskmanager_launchreport_add")).status_code == 403
    page = admin_client.get(change_url(report, "launchreport"))
    assert page.status_code == 200
    assert "INFO - two" in page.content.decode()
    assert "RQ job id" in page.content.decode()  # the other stored fields follow
    assert 'name="_save"' not in page.content.decode()
    delete_url = reverse("admin:eztaskmanager_launchreport_delete", args=[report.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert LaunchReport.objects.filter(pk=report.pk).exists()


def test_command_activation_actions(admin_client, make_command):
    command = make_command("eztm_echo")
    response = admin_client.post(
        changelist_url("appcommand"),
        {"action": "deactivate_commands", "_selected_action": [command.pk]},
        follow=True,
    )
    assert messages_of(response) == ["1 command deactivated."]
    assert not AppCommand.objects.get(pk=command.pk).active
    admin_client.post(
        changelist_url("appcommand"),
        {"action": "activate_commands", "_selected_action": [command.pk]},
    )
    assert AppCommand.objects.get(pk=command.pk).active


def test_category_shows_its_tasks_and_cannot_be_deleted_while_used(admin_client, make_task):
    category = TaskCategory.objects.create(name="reports")
    make_task(name="monthly numbers", category=category)
    listing = admin_client.get(changelist_url("taskcategory")).content.decode()
    assert '<td class="field-n_tasks">1</td>' in listing
    body = admin_client.get(change_url(category, "taskcategory")).content.decode()
    assert "monthly numbers" in body
    delete_url = reverse("admin:eztaskmanager_taskcategory_delete", args=[category.pk])
    confirmation = admin_client.get(delete_url).content.decode()
    assert "Task: monthly numbers" in confirmation
    admin_client.post(delete_url, {"post": "yes"})
    assert TaskCategory.objects.filter(pk=category.pk).exists()
