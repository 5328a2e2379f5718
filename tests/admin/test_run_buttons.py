"""Stop and "Run again" on a run's pages: POST only, the launch permission, audited, messages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.models import LaunchReport
from eztaskmanager.operations import audit
from eztaskmanager.services import run_management_command
from tests.factories import client_for, make_staff, make_superuser

pytestmark = pytest.mark.django_db

VIEW_ONLY = ("view_task", "view_launchreport")


@pytest.fixture
def immediate(settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"


def client_with(*perms: str, superuser: bool = False) -> tuple[Client, User]:
    user = make_staff(*perms, username="staff", is_superuser=superuser)
    return client_for(user), user


def unfinished(task, started: bool = True) -> LaunchReport:
    """A run going on (started) or queued (not started), with no worker behind it."""
    report = LaunchReport(task=task, started_at=timezone.now() if started else None)
    report.record_launch(task, None)
    report.save()
    return report


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("started", [True, False], ids=["running", "queued"])
def test_stop_button_stops_the_run_and_says_so(make_task, immediate, started):
    task = make_task("eztm_echo", "a")
    report = unfinished(task, started)
    client, user = client_with(superuser=True)
    url = reverse("eztaskmanager:stop_run", args=[report.pk])
    response = client.post(url, {"next": "live"})
    assert response.status_code == 302
    assert response["Location"] == reverse("eztaskmanager:live_log_viewer", args=[report.pk])
    report.refresh_from_db()
    assert report.invocation_result == LaunchReport.RESULT_FAILED
    assert report.failure_reason == "stopped by staff"
    assert report.stop_requested_by == "staff"
    assert any("asked to stop" in text and "stopped by staff" in text for text in texts(response))
    entry = audit.history(task)[-1]
    assert entry.user == user
    assert entry.get_change_message() == f"Stopped run {report.pk} by staff"


def test_stop_button_leaves_the_schedule_alone(make_task, immediate):
    task = make_task("eztm_echo", cron_expression="0 3 * * *", schedule_enabled=True)
    report = unfinished(task)
    client, _ = client_with(superuser=True)
    client.post(reverse("eztaskmanager:stop_run", args=[report.pk]))
    task.refresh_from_db()
    assert task.schedule_enabled


def test_stop_on_a_finished_run_does_nothing(make_task, immediate):
    report = run_management_command(make_task("eztm_echo", "a").pk)
    client, _ = client_with(superuser=True)
    response = client.post(reverse("eztaskmanager:stop_run", args=[report.pk]))
    assert response["Location"] == reverse("eztaskmanager:log_viewer", args=[report.pk])
    result = report.invocation_result
    report.refresh_from_db()
    assert report.invocation_result == result
    assert any("already ended" in text for text in texts(response))


@pytest.mark.parametrize("name", ["stop_run", "run_again"])
def test_a_get_does_nothing(make_task, immediate, name):
    task = make_task("eztm_echo", "a")
    report = unfinished(task)
    client, _ = client_with(superuser=True)
    assert client.get(reverse(f"eztaskmanager:{name}", args=[report.pk])).status_code == 405
    report.refresh_from_db()
    assert not report.is_finished
    assert LaunchReport.objects.filter(task=task).count() == 1


@pytest.mark.parametrize("name", ["stop_run", "run_again"])
def test_the_buttons_need_the_csrf_token(make_task, immediate, name):
    task = make_task("eztm_echo", "a")
    report = unfinished(task)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_superuser("boss"))
    assert client.post(reverse(f"eztaskmanager:{name}", args=[report.pk])).status_code == 403
    report.refresh_from_db()
    assert not report.is_finished


@pytest.mark.parametrize("name", ["stop_run", "run_again"])
def test_the_buttons_need_the_launch_permission(make_task, immediate, name):
    task = make_task("eztm_echo", "a")
    report = unfinished(task)
    client, _ = client_with(*VIEW_ONLY)
    assert client.post(reverse(f"eztaskmanager:{name}", args=[report.pk])).status_code == 403
    report.refresh_from_db()
    assert not report.is_finished


def test_pages_offer_stop_while_running_and_run_again_once_ended(make_task, immediate):
    task = make_task("eztm_echo", "a")
    running = unfinished(task)
    client, _ = client_with(superuser=True)
    stop_url = reverse("eztaskmanager:stop_run", args=[running.pk])
    again_url = reverse("eztaskmanager:run_again", args=[running.pk])
    for name in ("live_log_viewer", "log_viewer"):
        page = client.get(reverse(f"eztaskmanager:{name}", args=[running.pk])).content.decode()
        assert f'action="{stop_url}" data-role="stop">' in page
        assert f'action="{again_url}" data-role="again" hidden>' in page
    admin_page = client.get(f"/admin/eztaskmanager/launchreport/{running.pk}/change/")
    assert stop_url in admin_page.content.decode()
    task_page = client.get(f"/admin/eztaskmanager/task/{task.pk}/change/").content.decode()
    assert f"/admin/eztaskmanager/task/{task.pk}/stop/" in task_page

    ended = run_management_command(make_task("eztm_echo", "b", name="other").pk)
    page = client.get(reverse("eztaskmanager:live_log_viewer", args=[ended.pk])).content.decode()
    again_url = reverse("eztaskmanager:run_again", args=[ended.pk])
    assert f'action="{again_url}" data-role="again">' in page
    admin_page = client.get(f"/admin/eztaskmanager/launchreport/{ended.pk}/change/")
    assert again_url in admin_page.content.decode()
    task_page = client.get(f"/admin/eztaskmanager/task/{ended.task_id}/change/").content.decode()
    assert f"/admin/eztaskmanager/task/{ended.task_id}/stop/" not in task_page


def test_no_buttons_without_the_launch_permission(make_task, immediate):
    report = unfinished(make_task("eztm_echo", "a"))
    client, _ = client_with(*VIEW_ONLY)
    page = client.get(reverse("eztaskmanager:live_log_viewer", args=[report.pk])).content.decode()
    assert reverse("eztaskmanager:stop_run", args=[report.pk]) not in page


def test_run_again_launches_the_same_arguments_and_opens_its_live_log(make_task, immediate):
    task = make_task("eztm_echo", "a, b")
    first = run_management_command(task.pk)
    task.arguments = "c"  # edited since: the run again keeps what the report ran
    task.save()
    client, user = client_with(superuser=True)
    response = client.post(reverse("eztaskmanager:run_again", args=[first.pk]))
    new = LaunchReport.objects.exclude(pk=first.pk).get(task=task)
    assert response.status_code == 302
    assert response["Location"] == reverse("eztaskmanager:live_log_viewer", args=[new.pk])
    assert new.ran_arguments == first.ran_arguments == "a, b"
    assert audit.history(task)[-1].user == user
    assert any("launched again" in text for text in texts(response))


def test_run_again_of_a_one_off_run_passes_its_arguments(make_task, immediate):
    task = make_task("eztm_echo", "a")
    first = LaunchReport(task=task, invocation_result="ok", arguments="z")
    first.record_launch(task, "z")
    first.save()
    client, _ = client_with(superuser=True)
    client.post(reverse("eztaskmanager:run_again", args=[first.pk]))
    new = LaunchReport.objects.exclude(pk=first.pk).get(task=task)
    assert new.arguments == "z"
    assert new.ran_arguments == "z"
    assert audit.history(task)[-1].get_change_message() == "Launched once with the arguments 'z'"
