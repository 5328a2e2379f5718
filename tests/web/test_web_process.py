"""What the web process must not do: import a command the policy refuses (for its help), or
open the files a ``FileType`` option names while it validates task arguments."""

from __future__ import annotations

import sys

import pytest
from django.core.exceptions import ValidationError
from django.core.management import get_commands
from django.urls import reverse

from eztaskmanager import operations
from eztaskmanager.models import AppCommand
from tests import factories
from tests.admin.test_admin import change_url, form_data

pytestmark = pytest.mark.django_db

REFUSED_MODULE = "tests.testapp.management.commands.eztm_refused_help"


@pytest.fixture
def out_path(tmp_path):
    path = tmp_path / "somefile"
    yield path
    assert not path.exists(), "validating the arguments created the --out file"


def test_saving_a_task_with_a_file_option_creates_no_file(make_task, out_path):
    task = make_task("eztm_write_out", f"--out {out_path}")
    task.full_clean()
    task.save()


def test_saving_in_the_admin_creates_no_file(admin_client, make_task, out_path):
    task = make_task("eztm_write_out")
    url = change_url(task)
    response = admin_client.post(url, form_data(admin_client, url, arguments=f"--out {out_path}"))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.arguments == f"--out {out_path}"


def test_run_once_with_a_file_option_creates_no_file(make_task, fake_backend, out_path):
    task = make_task("eztm_write_out")
    operations.launch(task, fake_backend, defer=False, arguments=f"--out {out_path}")
    assert fake_backend.queue.count == 1


def test_a_file_option_still_needs_a_path(make_task):
    task = make_task("eztm_write_out")
    task.arguments = '--out ""'
    with pytest.raises(ValidationError) as caught:
        task.full_clean()
    assert "a file path is required" in str(caught.value)
    with pytest.raises(operations.BadArguments, match="a file path is required"):
        operations.check_arguments(task, '--out " "')


def test_the_worker_still_opens_the_file(make_task, tmp_path):
    from eztaskmanager.services import run_management_command

    out = tmp_path / "written"
    task = make_task("eztm_write_out", f"--out {out}")
    run_management_command(task.pk)
    assert out.read_text() == "written\n"


def refused_help(client, command: AppCommand) -> str:
    sys.modules.pop(REFUSED_MODULE, None)
    url = reverse("admin:eztaskmanager_task_command_help")
    body = client.get(url, {"command": command.pk}).content.decode()
    assert REFUSED_MODULE not in sys.modules, "the refused command was imported for its help"
    return body


def refused_row(active: bool = True) -> AppCommand:
    return AppCommand.objects.create(
        name="eztm_refused_help", app_name=get_commands()["eztm_refused_help"], active=active
    )


def test_the_help_of_an_inactive_command_is_refused_without_importing_it(admin_client):
    body = refused_help(admin_client, refused_row(active=False))
    assert body.startswith("The help of eztm_refused_help is not shown: command not allowed")
    assert "inactive" in body and "A command the tests refuse" not in body


def test_the_help_of_an_excluded_command_is_refused_without_importing_it(admin_client, settings):
    settings.EZTASKMANAGER_EXCLUDED_COMMANDS = ["eztm_refused_help"]
    body = refused_help(admin_client, refused_row())
    assert "command not allowed: eztm_refused_help" in body
    assert "EZTASKMANAGER_EXCLUDED_COMMANDS" in body


def test_the_help_of_a_denied_command_is_refused(admin_client):
    shell = AppCommand.objects.create(name="shell", app_name="django.core", active=False)
    url = reverse("admin:eztaskmanager_task_command_help")
    body = admin_client.get(url, {"command": shell.pk}).content.decode()
    assert "command not allowed: shell" in body and "--command" not in body


def test_the_change_page_of_a_task_on_a_refused_command_shows_the_refusal(admin_client):
    task = factories.make_task(refused_row(active=False), name="old")
    sys.modules.pop(REFUSED_MODULE, None)
    body = admin_client.get(change_url(task)).content.decode()
    assert "is not shown: command not allowed: eztm_refused_help" in body
    assert REFUSED_MODULE not in sys.modules


def test_the_help_of_an_allowed_command_is_still_shown(admin_client, make_command):
    url = reverse("admin:eztaskmanager_task_command_help")
    body = admin_client.get(url, {"command": make_command("eztm_write_out").pk}).content.decode()
    assert "--out" in body
