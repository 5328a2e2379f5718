"""Factories for the unit tests: commands, tasks, reports, log lines, users, a failed run.

Plain functions (they need the database; ``tests/conftest.py`` wraps some as fixtures). A
report comes in the shapes the code sees: ``queued_report`` (launched, not started: no
``started_at``), ``running_report`` (started, beating) and ``finished_report`` (started,
finished, with a result); ``make_report`` writes exactly the fields it is given. Log lines
are added with ``make_lines`` as a run adds them: numbered after the last one, the report's
counters kept in step.
"""

from __future__ import annotations

from itertools import count

from django.utils import timezone

_usernames = count(1)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# -- commands and tasks ------------------------------------------------------------------------


def make_command(name: str):
    """The AppCommand row of a real management command (created if missing)."""
    from django.core.management import get_commands

    from eztaskmanager.models import AppCommand

    command, _ = AppCommand.objects.get_or_create(
        name=name, app_name=get_commands()[name], defaults={"active": True}
    )
    return command


def make_task(command="eztm_echo", arguments: str = "", **fields):
    """A Task running ``command`` (a real command's name, or an AppCommand row as it is, e.g.
    one whose command is gone or refused) with ``arguments`` and any other field."""
    from eztaskmanager.models import AppCommand, Task

    if not isinstance(command, AppCommand):
        command = make_command(command)
    fields.setdefault("name", f"{command.name} task")
    return Task.objects.create(command=command, arguments=arguments, **fields)


# -- reports -----------------------------------------------------------------------------------


def make_report(task, record: bool = False, **fields):
    """A LaunchReport of ``task`` with exactly ``fields``; ``record=True`` also records what
    the launch runs (``report.record_launch``), as a launch does."""
    from eztaskmanager.models import LaunchReport

    report = LaunchReport(task=task, **fields)
    if record:
        report.record_launch(task, None)
    report.save()
    return report


def queued_report(task, record: bool = True, **fields):
    """A launch waiting for its worker: recorded, not started (no ``started_at``)."""
    return make_report(task, record=record, **fields)


def running_report(task, heartbeat: bool = True, **fields):
    """A run that started now and is going (its heartbeat is now unless ``heartbeat=False``)."""
    now = timezone.now()
    fields.setdefault("started_at", now)
    if heartbeat:
        fields.setdefault("heartbeat_at", now)
    return make_report(task, **fields)


def finished_report(task, result: str = "ok", lines=(), cache: bool = True, **fields):
    """A run that started and finished now with ``result`` (1.5 s long unless ``duration`` is
    given) and the log ``lines`` (see ``make_lines``); the task's cached last result follows
    when ``cache`` and there is a result."""
    now = timezone.now()
    fields.setdefault("started_at", now)
    fields.setdefault("finished_at", now)
    fields.setdefault("duration", 1.5)
    report = make_report(task, invocation_result=result, **fields)
    make_lines(report, *lines)
    if result and cache:
        task.compute_cache()
    return report


def _line(item, n: int) -> tuple[str, str]:
    if isinstance(item, tuple):
        return item
    if item in LEVELS:
        return item, f"line {n}"
    return "INFO", item


def make_lines(report, *lines) -> list:
    """Add log lines to ``report`` as a run does (``LaunchReport.append_lines``): numbered
    after its last line, ``n_lines``, ``n_errors`` and ``n_warnings`` kept in step. Each of
    ``lines`` is a level (the message is ``line <n>``), a message (at INFO) or a
    ``(level, message)`` pair. Returns the (level, message) pairs written."""
    start = report.n_lines
    pairs = [_line(item, start + n) for n, item in enumerate(lines, start=1)]
    report.append_lines((level, message, True) for level, message in pairs)
    return pairs


# -- users -------------------------------------------------------------------------------------


def make_user(username: str | None = None, *perms: str, **fields):
    """A user (``username`` or a fresh one) holding the eztaskmanager permissions ``perms``
    (codenames); ``fields`` such as ``is_staff``, ``is_superuser``, ``password``."""
    from django.contrib.auth.models import Permission, User

    password = fields.pop("password", None)
    user = User.objects.create_user(
        username or f"user{next(_usernames)}", password=password, **fields
    )
    if perms:
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="eztaskmanager", codename__in=perms)
        )
    return user


def make_staff(*perms: str, username: str | None = None, **fields):
    """A staff user holding exactly the eztaskmanager permissions ``perms``."""
    fields.setdefault("is_staff", True)
    return make_user(username or f"staff{next(_usernames)}", *perms, **fields)


def make_superuser(username: str = "boss", **fields):
    """A superuser (staff) named ``username``."""
    return make_user(username, is_staff=True, is_superuser=True, **fields)


def client_for(user):
    """A test client logged in as ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def staff_client(*perms: str, username: str | None = None):
    """A client logged in as a staff user (``username`` or a fresh one) holding exactly
    ``perms``."""
    return client_for(make_staff(*perms, username=username, password="x"))


EDITOR = ("view_task", "change_task", "add_task", "view_launchreport")
LAUNCHER = (*EDITOR, "launch_task")


# -- runs --------------------------------------------------------------------------------------


def fail_run(task, backend, attempt: int = 1, max_attempts: int = 1):
    """A started run of ``task`` ended as its worker died: the real ending, which decides and
    sends its retry; returns its report."""
    from eztaskmanager.runs import REASON_WORKER_DIED, close_run

    report = running_report(task, heartbeat=False, attempt=attempt, max_attempts=max_attempts)
    assert close_run(report, REASON_WORKER_DIED, backend=backend)
    report.refresh_from_db()
    return report
