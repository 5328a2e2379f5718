"""The command policy, its enforcement at run time and on save, the bounds and the audit blocks."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timedelta

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from eztaskmanager import operations
from eztaskmanager.core import arguments, permissions, policy
from eztaskmanager.models import AppCommand, LaunchReport, Task
from eztaskmanager.operations import audit
from eztaskmanager.services import run_management_command
from tests import factories
from tests.factories import make_staff, make_user

pytestmark = pytest.mark.django_db

PROJECT_COMMANDS = {
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


def forged_task(name: str, app_name: str, arguments: str = "", active: bool = True) -> Task:
    """A task on a command row written straight into the database, as an attacker could."""
    command = AppCommand.objects.create(name=name, app_name=app_name, active=active)
    return factories.make_task(command, arguments, name=f"forged {name}")


# -- the policy --------------------------------------------------------------------------------


def test_default_allows_only_the_projects_own_commands():
    assert set(policy.allowed_commands()) == PROJECT_COMMANDS
    for name in ("check", "clearsessions", "rqstats", "sendtestemail", "taskmanager"):
        assert policy.refusal(name) == f"command not allowed: {name}"


def test_app_origin_rule():
    assert policy.is_project_app("tests.testapp")
    for app_name in ("django.core", "django.contrib.auth", "django_rq", "eztaskmanager"):
        assert not policy.is_project_app(app_name)


@pytest.mark.parametrize("name", sorted(policy.DENIED_COMMANDS))
def test_denied_commands_stay_denied_whatever_the_settings(name):
    with override_settings(
        EZTASKMANAGER_ALLOWED_COMMANDS=[name],
        EZTASKMANAGER_ALLOWED_APPS=["django.core", "django_rq", "eztaskmanager", "auth"],
    ):
        assert policy.refusal(name) == f"command not allowed: {name}"
        assert name not in policy.allowed_commands()


def test_settings_allow_commands_and_apps_and_exclude_commands():
    with override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["check"]):
        assert policy.refusal("check") is None
    with override_settings(EZTASKMANAGER_ALLOWED_APPS=["django.contrib.sessions"]):
        assert policy.refusal("clearsessions") is None
    with override_settings(EZTASKMANAGER_EXCLUDED_COMMANDS=["eztm_echo"]):
        assert policy.refusal("eztm_echo") == "command not allowed: eztm_echo"


def test_a_row_must_be_active_and_name_the_real_app():
    good = AppCommand(name="eztm_echo", app_name="tests.testapp", active=True)
    assert policy.refusal(good) is None
    assert policy.refusal(AppCommand(name="eztm_echo", app_name="tests.testapp", active=False))
    assert policy.refusal(AppCommand(name="eztm_echo", app_name="django.core", active=True))
    with pytest.raises(policy.CommandNotAllowed, match="command not allowed: shell"):
        policy.check(AppCommand(name="shell", app_name="django.core"))


# -- run time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "app_name", "args"),
    [
        ("rqenqueue", "django_rq", 'os.system, "touch pwned"'),
        ("dumpdata", "django.core", "auth.user"),
        ("diffsettings", "django.core", "--all"),
        ("shell", "django.core", "-c, \"open('pwned', 'w')\""),
        ("check", "django.core", ""),
    ],
)
def test_a_forged_row_never_runs(name, app_name, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = forged_task(name, app_name, args)
    report = run_management_command(task.pk)
    assert report.invocation_result == LaunchReport.RESULT_FAILED
    assert report.failure_reason == f"command not allowed: {name}"
    assert "Not run: command not allowed" in report.log_tail()
    assert "SECRET_KEY" not in report.log_tail()
    assert list(tmp_path.iterdir()) == []
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE
    assert task.cached_last_invocation_result == LaunchReport.RESULT_FAILED


def test_a_renamed_row_is_refused(make_task):
    task = make_task("eztm_echo")
    AppCommand.objects.filter(pk=task.command_id).update(name="flush")
    report = run_management_command(task.pk)
    assert report.failure_reason == "command not allowed: flush"
    assert task.command.__class__.objects.get(pk=task.command_id).name == "flush"


def test_an_inactive_row_is_refused(make_task):
    task = make_task("eztm_echo")
    AppCommand.objects.filter(pk=task.command_id).update(active=False)
    report = run_management_command(task.pk)
    assert report.failure_reason == "command not allowed: eztm_echo"
    assert report.n_lines == 1  # only the refusal: the command printed nothing


def test_an_allowed_command_still_runs(make_task):
    report = run_management_command(make_task("eztm_echo").pk)
    assert report.invocation_result != LaunchReport.RESULT_FAILED
    assert report.failure_reason == ""


# -- save and upgrade --------------------------------------------------------------------------


def test_clean_refuses_a_command_outside_the_policy():
    task = forged_task("dumpdata", "django.core", "auth.user")
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "command not allowed: dumpdata" in str(info.value.message_dict["command"])


def test_system_check_lists_tasks_whose_command_is_no_longer_allowed():
    forged_task("check", "django.core")
    forged_task("shell", "django.core")
    warnings = {m.msg: m.hint for m in run_checks(databases=["default"]) if m.id.endswith("W030")}
    texts = " ".join(warnings)
    assert "'forged check'" in texts and "'forged shell'" in texts
    hints = " ".join(warnings.values())
    assert 'EZTASKMANAGER_ALLOWED_COMMANDS = [..., "check"]' in hints
    assert "No setting allows it" in hints
    assert Task.objects.count() == 2  # listed, not deleted


def test_system_check_is_quiet_when_every_task_may_run(make_task):
    make_task("eztm_echo")
    assert not [m for m in run_checks(databases=["default"]) if m.id.endswith("W030")]


# -- bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timeout": 2**40}, "timeout"),
        ({"retry_delays": "9" * 20, "max_retries": 1}, "retry_delays"),
        ({"retry_delays": ", ".join(["1"] * 21), "max_retries": 1}, "retry_delays"),
        ({"max_retries": 1000}, "max_retries"),
        ({"retry_delays": "60", "retry_exponential": True, "max_retries": 20}, "retry_delays"),
        ({"repetition_period": "second", "repetition_rate": 32767 * 1000}, "repetition_rate"),
        ({"repetition_period": "month", "repetition_rate": 13}, "repetition_rate"),
        ({"cron_expression": "0 0 31 2 *"}, "cron_expression"),
    ],
)
def test_bounds_are_validation_errors(make_task, fields, field):
    task = make_task("eztm_echo")
    for key, value in fields.items():
        setattr(task, key, value)
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert field in info.value.message_dict


def test_a_first_run_past_9998_is_a_validation_error(make_task):
    task = make_task("eztm_echo")
    task.scheduling = timezone.make_aware(datetime(9999, 12, 31, 23, 0))
    task.repetition_period, task.repetition_rate = "day", 1
    with pytest.raises(ValidationError) as info:
        task.full_clean()
    assert "9999" in str(info.value.message_dict["scheduling"])


def test_sane_values_pass(make_task):
    task = make_task("eztm_echo")
    task.timeout, task.max_retries, task.retry_delays = 3600, 3, "30, 120, 600"
    task.scheduling = timezone.now() + timedelta(days=1)
    task.repetition_period, task.repetition_rate = "week", 2
    task.full_clean()


# -- arguments that print ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["--help", "-h", "--version", "--vers", "--hel", "3, --help"])
def test_help_and_version_are_refused_without_printing(text):
    parser = AppCommand(name="eztm_echo", app_name="tests.testapp").get_parser()
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(arguments.ArgumentsError):
        arguments.validate(arguments.tokenize(text, parser), parser)
    assert out.getvalue() == "" and err.getvalue() == ""
    # The parser is left as it was.
    assert "error" not in vars(parser) and "print_help" not in vars(parser)


# -- audit and hold ----------------------------------------------------------------------------


def test_actor_is_an_inactive_user_that_cannot_log_in():
    scheduler = audit.actor(audit.SCHEDULER)
    assert scheduler.username == "eztaskmanager-scheduler"
    assert not scheduler.is_active and not scheduler.has_usable_password()
    assert audit.actor(audit.SCHEDULER).pk == scheduler.pk


def test_operator_is_the_named_user_or_the_cli_actor():
    make_user("ops")
    assert audit.operator("ops").username == "ops"
    assert audit.operator(None).username == "eztaskmanager-cli"
    with pytest.raises(LookupError):
        audit.operator("nobody")


def test_record_writes_the_admin_history(make_task):
    task = make_task("eztm_echo")
    user = make_user("ops")
    audit.record(task, user, "Launched")
    [entry] = audit.history(task)
    assert (entry.user, entry.get_change_message(), entry.object_id) == (
        user,
        "Launched",
        str(task.pk),
    )


def test_hold_unschedules_only_for_users_without_launch_permission(make_task):
    task = make_task(
        "eztm_echo",
        status=Task.STATUS_SCHEDULED,
        scheduled_job_id="eztm-x",
        scheduling=timezone.now() + timedelta(hours=1),
    )
    editor = make_staff(username="editor")
    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="immediate"):
        assert not operations.hold_if_unauthorised(task, editor, ["note"])
        assert operations.hold_if_unauthorised(task, editor, ["arguments"])
    task.refresh_from_db()
    assert task.status == Task.STATUS_IDLE and task.scheduled_job_id is None
    assert permissions.is_held(task)


# -- settings that do not do what they seem to ------------------------------------------------


@override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["dumpdata", "check", "shell"])
def test_a_warning_names_each_allowed_command_the_deny_list_overrides():
    warnings = [m for m in run_checks() if m.id == "eztaskmanager.W031"]
    assert [m.msg.split("'")[1] for m in warnings] == ["dumpdata", "shell"]
    assert "built-in deny list" in warnings[0].msg
    assert warnings[0].hint == "Remove 'dumpdata' from EZTASKMANAGER_ALLOWED_COMMANDS."
    with override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["check"]):
        assert not [m for m in run_checks() if m.id == "eztaskmanager.W031"]


@override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=["clearsessions"])
def test_a_refused_launch_says_why_and_which_setting_would_allow_it(make_task):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    task = make_task("clearsessions", name="sessions")
    with override_settings(EZTASKMANAGER_ALLOWED_COMMANDS=[]):
        with pytest.raises(operations.NotAllowed) as launched:
            operations.launch(task)
        with pytest.raises(ValidationError) as saved:
            task.full_clean()
        with pytest.raises(CommandError) as ran:
            call_command("taskmanager", "run", "sessions", stdout=io.StringIO())
    hint = "add 'clearsessions' to EZTASKMANAGER_ALLOWED_COMMANDS to allow it."
    assert (
        str(launched.value) == f"command not allowed: clearsessions: 'clearsessions' comes "
        f"from 'django.contrib.sessions', which is not one of the project's own apps; {hint}"
    )
    assert saved.value.message_dict["command"] == [str(launched.value)]
    assert str(ran.value) == f"'sessions' was not launched: {launched.value}"
