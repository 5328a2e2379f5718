"""Security: who may reach what, the privilege paths of the command policy, escaping everywhere.

The access matrix crosses every role (anonymous, non-staff, staff without each permission,
view-only, editor, launcher, superuser) with every URL and admin action the package exposes,
and says for each cell whether the role gets the page (or the action happens) or is turned away
without a 500.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from eztaskmanager.models import AppCommand, LaunchReport, Task, TaskCategory
from eztaskmanager.operations import audit
from eztaskmanager.services import run_management_command
from tests import factories
from tests.admin.test_admin import form_data

pytestmark = pytest.mark.django_db

ALL_PERMISSIONS = (
    "view_task",
    "change_task",
    "add_task",
    "launch_task",
    "view_launchreport",
    "view_appcommand",
    "view_taskcategory",
)
VIEW_ONLY = ("view_task", "view_launchreport", "view_appcommand", "view_taskcategory")
EDITOR = (*VIEW_ONLY, "change_task", "add_task")
LAUNCHER = ALL_PERMISSIONS
# role: (logged in, staff, superuser, permissions)
ROLES = {
    "anonymous": (False, False, False, ()),
    "non-staff": (True, False, False, ALL_PERMISSIONS),
    "staff, no permission": (True, True, False, ()),
    **{
        f"staff without {perm}": (True, True, False, tuple(p for p in LAUNCHER if p != perm))
        for perm in ALL_PERMISSIONS
    },
    "view-only": (True, True, False, VIEW_ONLY),
    "editor": (True, True, False, EDITOR),
    "launcher": (True, True, False, LAUNCHER),
    "superuser": (True, True, True, ()),
}


def has(perms, superuser, *names) -> bool:
    return superuser or all(name in perms for name in names)


def can_see_tasks(perms, superuser) -> bool:
    return has(perms, superuser, "view_task") or has(perms, superuser, "change_task")


def can_monitor(perms, superuser) -> bool:
    return has(perms, superuser, "view_task", "view_launchreport")


# name: (method, url builder, who may, status when allowed)
PAGES = {
    "task list": ("get", lambda o: "/admin/eztaskmanager/task/", can_see_tasks, 200),
    "task page": (
        "get",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/change/",
        can_see_tasks,
        200,
    ),
    "task history": (
        "get",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/history/",
        can_see_tasks,
        200,
    ),
    "task add": ("get", lambda o: "/admin/eztaskmanager/task/add/", "add_task", 200),
    "task delete": (
        "get",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/delete/",
        "delete_task",
        200,
    ),
    "command help": (
        "get",
        lambda o: f"/admin/eztaskmanager/task/command-help/?command={o['task'].command_id}",
        lambda p, s: can_see_tasks(p, s) or has(p, s, "add_task"),
        200,
    ),
    "arguments preview": (
        "post",
        lambda o: reverse("admin:eztaskmanager_task_arguments_preview"),
        lambda p, s: has(p, s, "add_task") or has(p, s, "change_task"),
        200,
    ),
    "launch button": (
        "post",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/launch/",
        lambda p, s: can_see_tasks(p, s) and has(p, s, "launch_task"),
        302,
    ),
    "stop button": (
        "post",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/stop/",
        lambda p, s: can_see_tasks(p, s) and has(p, s, "launch_task"),
        302,
    ),
    "resume button": (
        "post",
        lambda o: f"/admin/eztaskmanager/task/{o['task'].pk}/resume/",
        lambda p, s: can_see_tasks(p, s) and has(p, s, "launch_task"),
        302,
    ),
    "report list": (
        "get",
        lambda o: "/admin/eztaskmanager/launchreport/",
        "view_launchreport",
        200,
    ),
    "report page": (
        "get",
        lambda o: f"/admin/eztaskmanager/launchreport/{o['report'].pk}/change/",
        "view_launchreport",
        200,
    ),
    "command list": ("get", lambda o: "/admin/eztaskmanager/appcommand/", "view_appcommand", 200),
    "command page": (
        "get",
        lambda o: f"/admin/eztaskmanager/appcommand/{o['task'].command_id}/change/",
        "view_appcommand",
        200,
    ),
    "command add": ("get", lambda o: "/admin/eztaskmanager/appcommand/add/", lambda p, s: False, 0),
    "command delete": (
        "get",
        lambda o: f"/admin/eztaskmanager/appcommand/{o['task'].command_id}/delete/",
        lambda p, s: False,
        0,
    ),
    "category list": (
        "get",
        lambda o: "/admin/eztaskmanager/taskcategory/",
        "view_taskcategory",
        200,
    ),
    "log viewer": (
        "get",
        lambda o: reverse("eztaskmanager:log_viewer", args=[o["report"].pk]),
        "view_launchreport",
        200,
    ),
    "live viewer": (
        "get",
        lambda o: reverse("eztaskmanager:live_log_viewer", args=[o["report"].pk]),
        "view_launchreport",
        200,
    ),
    "ajax lines": (
        "get",
        lambda o: reverse("eztaskmanager:ajax_read_log_lines", args=[o["report"].pk]),
        "view_launchreport",
        200,
    ),
    "download": (
        "get",
        lambda o: reverse("eztaskmanager:download_log", args=[o["report"].pk]),
        "view_launchreport",
        200,
    ),
    "stop run button": (
        "post",
        lambda o: reverse("eztaskmanager:stop_run", args=[o["report"].pk]),
        lambda p, s: has(p, s, "view_launchreport", "launch_task"),
        302,
    ),
    "run again button": (
        "post",
        lambda o: reverse("eztaskmanager:run_again", args=[o["report"].pk]),
        lambda p, s: has(p, s, "view_launchreport", "launch_task"),
        302,
    ),
    "status json": ("get", lambda o: reverse("eztaskmanager:status_json"), can_monitor, 200),
    "metrics": ("get", lambda o: reverse("eztaskmanager:metrics"), can_monitor, 200),
    "dashboard": ("get", lambda o: reverse("eztaskmanager:dashboard"), can_monitor, 200),
}


def allowed(rule, perms, superuser) -> bool:
    if isinstance(rule, str):
        return has(perms, superuser, rule)
    return rule(perms, superuser)


def client_for(role: str) -> tuple[Client, User | None]:
    logged_in, staff, superuser, perms = ROLES[role]
    client = Client()
    if not logged_in:
        return client, None
    user = factories.make_user(
        role.replace(" ", "_").replace(",", ""), *perms, is_staff=staff, is_superuser=superuser
    )
    client.force_login(user)
    return client, user


@pytest.fixture
def objects(make_task, settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    settings.EZTASKMANAGER_PROMETHEUS_ENABLED = True
    task = make_task("eztm_echo", "a, b")
    report = run_management_command(task.pk)
    return {"task": task, "report": report}


def turned_away(response) -> bool:
    """A 403, a 404 or a redirect to the login page: never the page, never a 500."""
    if response.status_code == 302:
        return "/login/" in response["Location"]
    return response.status_code in (403, 404)


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("role", list(ROLES))
def test_access_matrix(objects, role, page):
    method, url, rule, ok_status = PAGES[page]
    client, _ = client_for(role)
    _, staff, superuser, perms = ROLES[role]
    response = getattr(client, method)(url(objects))
    if staff and allowed(rule, perms, superuser):
        assert response.status_code == ok_status, response.content[:500]
        if response.status_code == 302:
            assert "/login/" not in response["Location"]
    else:
        assert turned_away(response), (response.status_code, response.content[:300])


ACTION_ENTRIES = {"launch_tasks": "Launched", "stop_tasks": "Stopped", "resume_tasks": "Resumed"}


@pytest.mark.parametrize("action", sorted(ACTION_ENTRIES))
@pytest.mark.parametrize("role", list(ROLES))
def test_admin_actions_need_the_launch_permission(objects, role, action):
    client, user = client_for(role)
    _, staff, superuser, perms = ROLES[role]
    task = objects["task"]
    if action == "resume_tasks":  # a paused schedule to resume
        Task.objects.filter(pk=task.pk).update(cron_expression="0 3 * * *", schedule_enabled=False)
    before = LogEntry.objects.count()
    response = client.post(
        "/admin/eztaskmanager/task/",
        {"action": action, "_selected_action": [task.pk], "index": "0"},
    )
    assert response.status_code in (200, 302, 403)
    may = staff and can_see_tasks(perms, superuser) and has(perms, superuser, "launch_task")
    done = [e.get_change_message() for e in audit.history(task)]
    if may:
        assert done and done[-1].startswith(ACTION_ENTRIES[action])
        assert done and audit.history(task)[-1].user == user
    else:
        assert LogEntry.objects.count() == before
        assert LaunchReport.objects.filter(task=task).count() == 1


def test_launch_button_is_recorded_with_the_user(objects):
    client, user = client_for("launcher")
    client.post(f"/admin/eztaskmanager/task/{objects['task'].pk}/launch/")
    entry = audit.history(objects["task"])[-1]
    assert (entry.user, entry.get_change_message()) == (user, "Launched")


# -- privilege paths ---------------------------------------------------------------------------


def test_denied_commands_are_not_offered_in_the_task_form(objects):
    call_command("collectcommands", stdout=io.StringIO())
    client, _ = client_for("superuser")
    page = client.get("/admin/eztaskmanager/task/add/").content.decode()
    assert "tests.testapp: eztm_echo<" in page
    for name in ("rqenqueue", "dumpdata", "diffsettings", "shell", "taskmanager"):
        assert f": {name}<" not in page


def test_a_forged_row_is_refused_by_the_admin_launch(objects):
    forged = AppCommand.objects.create(name="rqenqueue", app_name="django_rq")
    task = factories.make_task(forged, 'os.system, "id"', name="forged")
    client, _ = client_for("launcher")
    response = client.post(f"/admin/eztaskmanager/task/{task.pk}/launch/", follow=True)
    assert "command not allowed: rqenqueue" in response.content.decode()
    assert not LaunchReport.objects.filter(task=task).exists()


def test_command_rows_cannot_be_renamed_added_or_deleted_even_by_a_superuser(objects):
    command = objects["task"].command
    client, _ = client_for("superuser")
    url = f"/admin/eztaskmanager/appcommand/{command.pk}/change/"
    client.post(url, {"name": "flush", "app_name": "django.core", "active": "on"})
    command.refresh_from_db()
    assert (command.name, command.app_name) == ("eztm_echo", "tests.testapp")
    assert client.post("/admin/eztaskmanager/appcommand/add/", {"name": "shell"}).status_code == 403
    assert AppCommand.objects.filter(name="shell").count() == 0


def test_only_a_superuser_toggles_active(objects):
    command = objects["task"].command
    url = f"/admin/eztaskmanager/appcommand/{command.pk}/change/"
    staff, _ = client_for("launcher")
    staff.post(url, {"active": ""})
    command.refresh_from_db()
    assert command.active
    superuser, _ = client_for("superuser")
    assert superuser.post(url, {"active": ""}).status_code == 302
    command.refresh_from_db()
    assert not command.active


def test_editing_a_scheduled_task_without_launch_permission_unschedules_it(objects):
    task = objects["task"]
    Task.objects.filter(pk=task.pk).update(status=Task.STATUS_SCHEDULED, scheduled_job_id="x")
    client, _ = client_for("editor")
    url = f"/admin/eztaskmanager/task/{task.pk}/change/"
    data = form_data(client, url, arguments="c")
    response = client.post(url, data, follow=True)
    assert "is unscheduled" in response.content.decode()
    task.refresh_from_db()
    assert (task.arguments, task.status, task.scheduled_job_id) == ("c", "idle", None)
    messages = [e.get_change_message() for e in audit.history(task)]
    assert "Arguments changed from 'a, b' to 'c'." in messages


# -- findings ----------------------------------------------------------------------------------


def test_a_field_error_with_a_missing_inline_id_is_a_form_error_not_a_500(objects):
    task = objects["task"]
    client, _ = client_for("launcher")
    url = f"/admin/eztaskmanager/task/{task.pk}/change/"
    data = form_data(client, url, name="")
    data.update({"launchreport_set-TOTAL_FORMS": "1", "launchreport_set-INITIAL_FORMS": "1"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def test_a_very_long_log_search_is_a_clear_message(objects):
    client, _ = client_for("view-only")
    report = objects["report"]
    text = "x" * 50_000
    page = client.get(reverse("eztaskmanager:log_viewer", args=[report.pk]), {"q": text})
    assert page.status_code == 200
    assert "longer than 200 characters" in page.content.decode()
    answer = client.get(reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]), {"q": text})
    assert answer.status_code == 400
    assert "longer than 200 characters" in answer.json()["error"]


# -- escaping ----------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert('eztm1')</script>",
    '"><img src=x onerror=alert("eztm2")>',
    "'><svg/onload=alert('eztm3')>",
    "</textarea><script>alert('eztm4')</script>",
    "</pre><b onmouseover=alert('eztm5')>x</b>",
]
# Raw markup that must never come back unescaped.
MARKERS = ("<script>alert(", "<img src=x", "<svg/onload", "<b onmouseover")


@pytest.fixture
def hostile(db):
    payload = " ".join(PAYLOADS)
    category = TaskCategory.objects.create(name=payload)
    task = factories.make_task(
        "eztm_echo",
        ", ".join(f'"{p}"' for p in PAYLOADS),
        name=payload,
        note=payload,
        category=category,
        cached_last_invocation_result="failed",
    )
    report = factories.make_report(task, invocation_result="failed", failure_reason=payload)
    factories.make_lines(report, *(("ERROR", p) for p in PAYLOADS))
    audit.record(task, factories.make_user("someone"), payload)
    return task, report, category


def test_payloads_are_escaped_on_every_page(hostile, settings):
    settings.EZTASKMANAGER_PROMETHEUS_ENABLED = True
    task, report, category = hostile
    client, _ = client_for("superuser")
    html_pages = [
        "/admin/eztaskmanager/task/",
        f"/admin/eztaskmanager/task/{task.pk}/change/",
        f"/admin/eztaskmanager/task/{task.pk}/history/",
        "/admin/eztaskmanager/launchreport/",
        f"/admin/eztaskmanager/launchreport/{report.pk}/change/",
        "/admin/eztaskmanager/taskcategory/",
        f"/admin/eztaskmanager/taskcategory/{category.pk}/change/",
        "/admin/eztaskmanager/",
        reverse("eztaskmanager:log_viewer", args=[report.pk]),
        reverse("eztaskmanager:live_log_viewer", args=[report.pk]),
        reverse("eztaskmanager:dashboard"),
    ]
    for url in html_pages:
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        for marker in MARKERS:
            assert marker not in body, (url, marker)
    for url in (
        reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]),
        reverse("eztaskmanager:status_json"),
    ):
        response = client.get(url)
        assert "<" not in response.content.decode(), url
        assert json.loads(response.content)  # still the data, escaped for safety
    download = client.get(reverse("eztaskmanager:download_log", args=[report.pk]))
    assert download["Content-Type"].startswith("text/plain")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment")
    help_text = client.get(f"/admin/eztaskmanager/task/command-help/?command={task.command_id}")
    assert help_text["Content-Type"].startswith("text/plain")
    assert help_text["X-Content-Type-Options"] == "nosniff"
