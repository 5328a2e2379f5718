"""The task form's preview of its arguments: the command line a run executes, or the very
error the form's save gives (one function checks both), for who may add or change tasks."""

from __future__ import annotations

import json
import sys

import pytest
from django.core.management import get_commands
from django.test import Client
from django.urls import reverse

from eztaskmanager.admin.actions import MAX_ARGUMENTS_LENGTH
from eztaskmanager.core import bounds
from eztaskmanager.models import AppCommand, Task
from tests.admin.test_admin import change_url, form_data, staff_client
from tests.factories import client_for, make_superuser, make_user

__all__ = ["staff_client"]  # a fixture used here

pytestmark = pytest.mark.django_db

REFUSED_MODULE = "tests.testapp.management.commands.eztm_refused_help"


def preview_url() -> str:
    return reverse("admin:eztaskmanager_task_arguments_preview")


def preview(client, command, arguments: str = "", **extra) -> dict:
    response = client.post(
        preview_url(), {"command": getattr(command, "pk", command), "arguments": arguments, **extra}
    )
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.content)


def save_errors(client, command, arguments: str) -> list[str]:
    """The errors the admin add form shows for the arguments (or the command) on save."""
    url = reverse("admin:eztaskmanager_task_add")
    data = form_data(client, url, name="preview", command=command.pk, arguments=arguments)
    response = client.post(url, data)
    assert response.status_code == 200, "the form was saved"
    errors = response.context["adminform"].form.errors
    return [*errors.get("arguments", []), *errors.get("command", [])]


# -- who may ask -------------------------------------------------------------------------------


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(make_command):
    command = make_command("eztm_echo")
    anonymous = Client().post(preview_url(), {"command": command.pk, "arguments": "a"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    user = make_user("visitor", password="x", is_staff=False, is_superuser=False)
    response = client_for(user).post(preview_url(), {"command": command.pk, "arguments": "a"})
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    "perms", [(), ("view_task",), ("view_task", "view_launchreport", "launch_task")]
)
def test_staff_without_the_add_or_change_permission_is_refused(staff_client, make_command, perms):
    command = make_command("eztm_echo")
    response = staff_client(*perms).post(preview_url(), {"command": command.pk, "arguments": "a"})
    assert response.status_code == 403


@pytest.mark.parametrize("perms", [("add_task",), ("change_task",)])
def test_staff_who_may_add_or_change_tasks_get_the_preview(staff_client, make_command, perms):
    data = preview(staff_client(*perms), make_command("eztm_echo"), "nightly, --count 3")
    assert data["state"] == "ok"


def test_the_preview_is_a_post(admin_client, make_command):
    response = admin_client.get(preview_url(), {"command": make_command("eztm_echo").pk})
    assert response.status_code == 405


def test_the_preview_checks_the_csrf_token(make_command):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_superuser("boss", email="boss@example.com", password="pw"))
    response = client.post(preview_url(), {"command": make_command("eztm_echo").pk})
    assert response.status_code == 403


# -- what it shows -----------------------------------------------------------------------------


def test_the_preview_shows_the_command_line(admin_client, make_command):
    data = preview(admin_client, make_command("eztm_echo"), "nightly, --count 3")
    assert data == {
        "state": "ok",
        "argv": ["nightly", "--count", "3"],
        "command_line": "manage.py eztm_echo nightly --count 3",
    }


def test_the_command_line_quotes_a_value_with_blanks(admin_client, make_command):
    data = preview(admin_client, make_command("eztm_echo"), '--title "a, b", --tag x, --tag y')
    assert data["argv"] == ["--title", "a, b", "--tag", "x", "--tag", "y"]
    assert data["command_line"] == "manage.py eztm_echo --title 'a, b' --tag x --tag y"


def test_the_argv_is_the_one_a_saved_task_runs(admin_client, make_command, make_task):
    text = "--title hello world, --count 2, one, two"
    task = make_task("eztm_echo", text)
    assert preview(admin_client, task.command, text)["argv"] == task.complete_args


def test_a_task_function_previews_as_a_call_or_the_error_the_save_gives(admin_client):
    from eztaskmanager.internals import djangotasks

    if not djangotasks.AVAILABLE:
        pytest.skip("needs Django 6 or the django-tasks package")
    command = AppCommand.objects.create(name="tests.testapp.tasks.add", app_name="tests.testapp")
    data = preview(admin_client, command, '{"args": [1], "kwargs": {"b": "<x>"}}')
    assert data == {
        "state": "ok",
        "argv": [],
        "command_line": 'tests.testapp.tasks.add(1, b="<x>")',
    }
    data = preview(admin_client, command, '{"args": [1, 2, 3]}')
    assert data["state"] == "invalid"
    assert "does not take these arguments" in data["errors"][0]


def test_without_a_command_the_preview_asks_for_one(admin_client):
    for command in ("", "not-a-number", "12\x00", 999999):
        data = preview(admin_client, command, "--count 3")
        assert data == {
            "state": "none",
            "message": "Choose a command to see the command line it runs.",
        }


ERRORS = {
    "an option in an unquoted value": (
        "--title backup --count 3",
        "--title would get the value 'backup --count 3', which holds the option --count: "
        "put a comma before --count, or quote the value.",
    ),
    "an invalid int": ("--count many", "argument --count: invalid int value: 'many'"),
    "an unknown option": ("--rows=3", "unrecognized arguments: --rows=3"),
    "help": ("--help", "--help and --version are not task arguments: they print and exit."),
    "an unclosed quote": ('--title "a, b', 'No closing quotation (") in arguments.'),
    # The form's own field refuses it before the model's check.
    "a NUL character": ("--title a\x00b", "Null characters are not allowed."),
}


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_each_error_is_the_one_the_form_save_gives(admin_client, make_command, kind):
    text, message = ERRORS[kind]
    command = make_command("eztm_echo")
    data = preview(admin_client, command, text)
    assert data == {"state": "invalid", "errors": [message]}
    assert save_errors(admin_client, command, text) == data["errors"]


def test_a_required_positional_is_asked_for_as_on_save(admin_client, make_command):
    command = make_command("eztm_lines")
    data = preview(admin_client, command, "")
    assert data["state"] == "invalid" and "required" in data["errors"][0]
    assert save_errors(admin_client, command, "") == data["errors"]


def test_the_legacy_rule_is_read_when_its_box_is_ticked(admin_client, make_command, make_task):
    text = "--title backup --count 3"
    command = make_command("eztm_echo")
    legacy = preview(admin_client, command, text, legacy="1")
    task = make_task("eztm_echo", text, legacy_arguments=True)
    task.full_clean()  # the 0.5.x rule takes it: one value of blank-separated words
    assert legacy == {
        "state": "ok",
        "argv": ["--title", "backup --count 3"],
        "command_line": "manage.py eztm_echo --title 'backup --count 3'",
    }
    assert legacy["argv"] == task.complete_args
    assert preview(admin_client, command, text)["state"] == "invalid"  # box not ticked


def test_the_change_form_of_a_legacy_task_saves_what_the_preview_accepts(admin_client, make_task):
    task = make_task("eztm_echo", "--count=2", legacy_arguments=True)
    url = change_url(task)
    body = admin_client.get(url).content.decode()
    assert 'id="id_legacy_arguments"' in body and 'id="eztm-arguments-preview"' in body
    text = "--title backup --count 3"
    assert preview(admin_client, task.command, text, legacy="1")["state"] == "ok"
    response = admin_client.post(url, form_data(admin_client, url, arguments=text))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.arguments == text


def test_a_very_long_text_gets_a_message_not_a_500(admin_client, make_command):
    text = "--tag x, " * (MAX_ARGUMENTS_LENGTH // 9 + 1)
    data = preview(admin_client, make_command("eztm_echo"), text)
    assert data == {
        "state": "invalid",
        "errors": [
            f"Arguments longer than {MAX_ARGUMENTS_LENGTH} characters are not previewed: "
            "shorten them."
        ],
    }


def test_markup_in_the_arguments_comes_back_escaped(admin_client, make_command):
    response = admin_client.post(
        preview_url(),
        {"command": make_command("eztm_echo").pk, "arguments": '--title "<b>&x</b>"'},
    )
    assert "<" not in response.content.decode() and "&x" not in response.content.decode()
    assert json.loads(response.content)["argv"] == ["--title", "<b>&x</b>"]


# -- a command the policy refuses is never imported ----------------------------------------------


def refused_row(active: bool = True) -> AppCommand:
    return AppCommand.objects.create(
        name="eztm_refused_help", app_name=get_commands()["eztm_refused_help"], active=active
    )


def refused_preview(client, command: AppCommand, arguments: str = "--anything") -> dict:
    sys.modules.pop(REFUSED_MODULE, None)
    data = preview(client, command, arguments)
    assert REFUSED_MODULE not in sys.modules, "the refused command was imported for a preview"
    return data


def clean_errors(command: AppCommand, arguments: str) -> list[str]:
    task = Task(name="t", command=command, arguments=arguments)
    sys.modules.pop(REFUSED_MODULE, None)
    try:
        task.clean()
    except Exception as exc:
        errors = exc.message_dict
    else:
        raise AssertionError("clean accepted the task")
    assert REFUSED_MODULE not in sys.modules
    return [*errors.get("arguments", []), *errors.get("command", [])]


def test_an_inactive_command_is_refused_without_importing_it(admin_client):
    command = refused_row(active=False)
    data = refused_preview(admin_client, command)
    assert data["state"] == "invalid"
    [message] = data["errors"]
    assert message.startswith("command not allowed: eztm_refused_help") and "inactive" in message
    assert data["errors"] == clean_errors(command, "--anything")


def test_an_excluded_command_is_refused_without_importing_it(admin_client, settings):
    settings.EZTASKMANAGER_EXCLUDED_COMMANDS = ["eztm_refused_help"]
    command = refused_row()
    data = refused_preview(admin_client, command)
    assert "EZTASKMANAGER_EXCLUDED_COMMANDS" in data["errors"][0]
    assert data["errors"] == clean_errors(command, "--anything")


def test_a_denied_command_is_refused(admin_client):
    shell = AppCommand.objects.create(name="shell", app_name="django.core", active=False)
    data = preview(admin_client, shell, "--command 'print(1)'")
    assert data["state"] == "invalid" and "command not allowed: shell" in data["errors"][0]


def test_a_nul_character_is_refused_before_the_command_is_looked_at(admin_client):
    command = refused_row(active=False)
    data = refused_preview(admin_client, command, "a\x00b")
    assert data == {"state": "invalid", "errors": ["Null characters are not allowed."]}
    # Task.clean alone (without the form's field) reports both, still without importing.
    nul, refused = clean_errors(command, "a\x00b")
    assert nul == bounds.nul_message() and refused.startswith("command not allowed")


# -- the form --------------------------------------------------------------------------------


def test_the_add_form_has_the_preview_box(admin_client):
    body = admin_client.get(reverse("admin:eztaskmanager_task_add")).content.decode()
    assert 'id="eztm-arguments-preview"' in body
    assert f'data-url="{preview_url()}"' in body
    assert "eztaskmanager/task_form.js" in body


def test_a_view_only_form_has_no_preview_box(staff_client, make_task):
    task = make_task("eztm_echo", "a")
    body = staff_client("view_task").get(change_url(task)).content.decode()
    assert "id_arguments" not in body and "eztm-arguments-preview" not in body
