"""Bad input from staff users: a form error or a clear message, never a 500, nothing written.

A NUL character is refused by PostgreSQL's text columns (and in its query parameters); these
tests run on SQLite and PostgreSQL (``EZTM_TEST_DB=postgres``) alike.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from eztaskmanager.cli.tasks_as_code import DeclarationError, load_tasks
from eztaskmanager.models import FollowUp, LaunchReport, Task, TaskCategory
from tests.admin.test_admin import change_url, fake_queue, form_data, messages_of
from tests.operations.test_followups import follow_up_data
from tests.web.test_views import make_report

pytestmark = pytest.mark.django_db
__all__ = ["fake_queue"]  # a fixture used here

NUL = "\x00"


def test_run_once_arguments_with_a_nul_are_a_message_and_nothing_is_written(
    admin_client, make_task, fake_queue
):
    task = make_task("eztm_echo", name="echo")
    url = reverse("admin:eztaskmanager_task_launch", args=[task.pk])

    response = admin_client.post(url, {"arguments": f"a{NUL}b"}, follow=True)

    assert response.status_code == 200
    assert messages_of(response) == [
        "“echo” was not launched: The text contains a NUL character (\\0), which cannot be "
        "stored: remove it."
    ]
    assert not LaunchReport.objects.filter(task=task).exists()
    assert not LogEntry.objects.filter(object_id=str(task.pk)).exists()  # no history entry
    assert fake_queue.queue.count == 0


def test_the_command_line_refuses_arguments_with_a_nul(make_task):
    task = make_task("eztm_echo", name="echo")
    for sync in ([], ["--sync"]):
        with pytest.raises(CommandError, match="NUL character") as err:
            call_command(
                "taskmanager", "run", "echo", "--args", f"a{NUL}", *sync, stdout=io.StringIO()
            )
        assert err.value.returncode == 1
    assert not LaunchReport.objects.filter(task=task).exists()
    for subcommand in ("run", "stop"):
        with pytest.raises(CommandError, match="NUL character") as err:
            call_command("taskmanager", subcommand, f"echo{NUL}", stdout=io.StringIO())
        assert err.value.returncode == 1


def test_a_log_search_with_a_nul_is_an_error_message(admin_client, make_task):
    report = make_report(make_task(name="logged"), [("INFO", "a line")])

    read = admin_client.get(
        reverse("eztaskmanager:ajax_read_log_lines", args=[report.pk]), {"q": f"a{NUL}"}
    )
    assert read.status_code == 400
    assert "NUL character" in read.json()["error"]
    page = admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk]), {"q": f"a{NUL}"})
    assert page.status_code == 200
    assert "The search text contains a NUL character" in page.content.decode()
    assert "a line" in page.content.decode()  # the whole log, unfiltered


@pytest.mark.parametrize("field", ["name", "arguments", "note"])
def test_a_task_with_a_nul_in_its_text_is_not_valid(make_task, field):
    task = make_task("eztm_echo", name="echo")
    setattr(task, field, f"x{NUL}y")

    with pytest.raises(ValidationError) as err:
        task.full_clean()
    assert "NUL character" in " ".join(err.value.message_dict[field])


def test_the_admin_form_refuses_a_nul_in_a_task(admin_client, make_task):
    task = make_task("eztm_echo", "own", name="echo")
    for field in ("name", "arguments", "note"):
        data = form_data(admin_client, change_url(task), **{field: f"x{NUL}y"})
        response = admin_client.post(change_url(task), data)
        assert response.status_code == 200, field
        assert "errorlist" in response.content.decode()
    task.refresh_from_db()
    assert (task.name, task.arguments, task.note) == ("echo", "own", None)


def test_the_admin_search_and_filters_take_a_nul(admin_client, make_task):
    make_task(name="echo")
    for path in ("task", "launchreport", "taskcategory", "appcommand"):
        url = reverse(f"admin:eztaskmanager_{path}_changelist")
        assert admin_client.get(url, {"q": f"a{NUL}"}).status_code == 200, path


def test_tasks_as_code_refuses_a_nul_before_writing_anything(make_command):
    make_command("eztm_echo")
    declarations = [
        {"name": "good", "command": "eztm_echo", "category": "new category"},
        {"name": "bad", "command": "eztm_echo", "arguments": f"a{NUL}"},
        {"name": f"bad{NUL}name", "command": "eztm_echo"},
        {"name": "bad category", "command": "eztm_echo", "category": f"c{NUL}"},
    ]

    with pytest.raises(DeclarationError) as err:
        load_tasks(declarations)

    assert [e.split(":")[0] for e in err.value.errors] == [
        "Task 'bad'",
        "Task 'bad\\x00name'",
        "Task 'bad category'",
    ]
    assert all("NUL character" in e for e in err.value.errors)
    assert not Task.objects.exists() and not TaskCategory.objects.exists()


def test_a_follow_up_added_twice_from_two_tabs_is_a_form_error(admin_client, make_task):
    a, b = make_task(name="a"), make_task(name="the next one")
    first = follow_up_data(admin_client, a, [(b, "ok")])
    second = dict(first)  # the same page, open in another tab

    assert admin_client.post(change_url(a), first).status_code == 302
    response = admin_client.post(change_url(a), second)

    assert response.status_code == 200
    page = response.content.decode()
    # Django 6.1 checks the unique constraint in the inline form itself (its own message);
    # before, the formset's check of ours says it.
    assert "“the next one” is already a follow-up of this task" in page or (
        "Follow-up task with this Task and Then launch already exists." in page
    )
    assert FollowUp.objects.filter(task=a).count() == 1


def test_the_same_follow_up_twice_on_one_page_is_a_form_error(admin_client, make_task):
    a, b = make_task(name="a"), make_task(name="b")
    response = admin_client.post(change_url(a), follow_up_data(admin_client, a, [(b, "ok")] * 2))
    assert response.status_code == 200
    assert not FollowUp.objects.exists()
