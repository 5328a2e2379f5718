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


def test_adds_commands_and_leaves_out_dangerous_ones():
    collect()
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert {"eztm_echo", "check", "rqworker"} <= names
    for unsafe in (
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


def test_excludecore_leaves_out_django_commands():
    collect("--excludecore")
    names = set(AppCommand.objects.values_list("name", flat=True))
    assert "eztm_echo" in names
    assert "check" not in names and "collectstatic" not in names


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
    assert "eztm_echo" not in names and "flush" in names
