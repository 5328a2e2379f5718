import io

import pytest
from django.core.management import call_command
from django.test import override_settings

from eztaskmanager.models import AppCommand

pytestmark = pytest.mark.django_db


def collect(*args):
    out = io.StringIO()
    call_command("collectcommands", *args, stdout=out)
    return out.getvalue()


def test_adds_only_the_projects_own_commands():
    collect()
    # The @task functions of the project's apps are offered too (tests/test_tasks.py).
    names = {name for name in AppCommand.objects.values_list("name", flat=True) if "." not in name}
    assert names == {
        "eztm_echo",
        "eztm_fail",
        "eztm_horse",
        "eztm_lines",
        "eztm_orm_log",
        "eztm_plain",
        "eztm_refused_help",
        "eztm_sleep",
        "eztm_write_out",
    }
    for unsafe in (
        "rqenqueue",
        "rqworker",
        "dumpdata",
        "loaddata",
        "diffsettings",
        "taskmanager",
        "collectcommands",
        "check",
        "flush",
        "shell",
        "dbshell",
        "sqlflush",
        "createsuperuser",
        "changepassword",
        "runserver",
        "testserver",
    ):
        assert unsafe not in names


@override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["check", "flush"])
def test_allowed_commands_setting_adds_commands_but_never_denied_ones():
    collect()
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert "check" in names and "flush" not in names


@override_settings(EZTASKMANAGER_ALLOWED_APPS=["sessions", "django_rq"])
def test_allowed_apps_setting_adds_their_commands_but_never_denied_ones():
    collect()
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert {"clearsessions", "rqstats"} <= names
    assert not names & {"rqworker", "rqenqueue", "rqscheduler"}


@override_settings(EZTASKMANAGER_ALLOWED_APPS=["sessions", "staticfiles"])
def test_excludecore_leaves_out_django_commands():
    collect("--excludecore")
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert "eztm_echo" in names
    assert "clearsessions" not in names and "collectstatic" not in names


def test_vanished_command_is_deactivated_not_deleted(make_task):
    gone = AppCommand.objects.create(name="was_here", app_name="oldapp")
    task = make_task()
    collect()
    gone.refresh_from_db()
    assert gone.active is False
    assert AppCommand.objects.filter(pk=task.command_id, active=True).exists()


def test_rerun_is_idempotent_and_reactivates():
    collect()
    count = AppCommand.objects.count()
    AppCommand.objects.filter(name="eztm_echo").update(active=False)
    output = collect()
    assert AppCommand.objects.count() == count
    assert AppCommand.objects.get(name="eztm_echo").active
    assert "1 reactivated" in output


def test_excluded_list_is_a_setting():
    with override_settings(EZTASKMANAGER_EXCLUDED_COMMANDS=["eztm_echo"]):
        collect()
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert "eztm_echo" not in names and "eztm_fail" in names


def test_forged_rows_are_deactivated():
    forged = [
        AppCommand.objects.create(name="shell", app_name="django.core"),
        AppCommand.objects.create(name="eztm_echo", app_name="django.core"),
        AppCommand.objects.create(name="rqenqueue", app_name="django_rq"),
    ]
    collect()
    assert not AppCommand.objects.filter(pk__in=[row.pk for row in forged], active=True).exists()


@override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["clearsessions", "dumpdata"])
def test_excludecore_keeps_the_core_commands_the_settings_name():
    err = io.StringIO()
    call_command("collectcommands", "--excludecore", stdout=io.StringIO(), stderr=err)
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert "clearsessions" in names and "dumpdata" not in names
    assert "'dumpdata' is in EZTASKMANAGER_ALLOWED_COMMANDS, but the built-in deny list" in (
        err.getvalue()
    )


def test_the_task_form_offers_only_commands_the_policy_allows_now(admin_client, make_task):
    from django.urls import reverse

    with override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["clearsessions"]):
        collect()
    task = make_task("clearsessions", name="sessions")
    add = reverse("admin:eztaskmanager_task_add")
    change = reverse("admin:eztaskmanager_task_change", args=[task.pk])
    with override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["clearsessions"]):
        assert "django.contrib.sessions: clearsessions" in admin_client.get(add).content.decode()

    # The setting is gone; the row is still active until collectcommands runs again.
    assert AppCommand.objects.get(name="clearsessions").active
    assert "django.contrib.sessions: clearsessions" not in admin_client.get(add).content.decode()
    assert "tests.testapp: eztm_echo" in admin_client.get(add).content.decode()
    page = admin_client.get(change).content.decode()
    assert (
        "django.contrib.sessions: clearsessions" in page
    )  # the task's own command stays, to say why it is refused
