"""The worker's warm-up: what it loads, what it leaves behind (nothing), and when it runs."""

import gc
import sys

import pytest
from django.db import connection
from django.test.utils import override_settings

from eztaskmanager.models import AppCommand, LaunchReport, Log, Task
from eztaskmanager.services import run_management_command
from eztaskmanager.worker import warmup

ECHO_MODULE = "tests.testapp.management.commands.eztm_echo"
LINES_MODULE = "tests.testapp.management.commands.eztm_lines"


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()


@pytest.fixture
def forget_modules():
    """Drop the test commands' modules, so that a test sees who imports them again."""
    saved = {name: sys.modules.pop(name, None) for name in (ECHO_MODULE, LINES_MODULE)}
    yield
    for name, module in saved.items():
        if module is not None:
            sys.modules[name] = module


@pytest.mark.django_db
def test_commands_in_use_are_the_allowed_commands_of_tasks(make_task, make_command):
    make_task("eztm_echo")
    make_command("eztm_lines")  # no task runs it
    # Rows the settings or the code do not allow: an excluded command, a wrong app.
    flush = AppCommand.objects.create(name="flush", app_name="django.core")
    make_task(flush, name="flush")
    moved = AppCommand.objects.create(name="eztm_plain", app_name="somewhere.else")
    make_task(moved, name="moved")

    assert warmup.commands_in_use() == [("eztm_echo", "tests.testapp")]


@pytest.mark.django_db
def test_import_commands_skips_a_command_that_does_not_load(forget_modules):
    loaded = warmup.import_commands([("eztm_echo", "tests.testapp"), ("nope", "tests.testapp")])
    assert loaded == 1
    assert ECHO_MODULE in sys.modules


@pytest.mark.django_db
def test_prime_orm_leaves_no_row_and_no_change(make_task):
    task = make_task("eztm_lines", "2")
    report = run_management_command(task.pk)
    before = Task.objects.values().get(pk=task.pk)
    reports, lines = LaunchReport.objects.count(), Log.objects.count()

    warmup.prime_orm()

    assert Task.objects.values().get(pk=task.pk) == before
    assert (LaunchReport.objects.count(), Log.objects.count()) == (reports, lines)
    assert LaunchReport.objects.get().pk == report.pk
    # Not even a number of the sequence: the next report follows the last one.
    assert run_management_command(task.pk).pk == report.pk + 1


@pytest.mark.django_db(transaction=True)
def test_before_fork_warms_closes_connections_and_freezes(make_task, forget_modules, unfreeze):
    make_task("eztm_echo")
    warmer = warmup.Warmer()

    warmer.before_fork()

    assert ECHO_MODULE in sys.modules
    assert connection.connection is None  # a horse never inherits the parent's connection
    assert gc.get_freeze_count() > 0
    assert not warmer.due()


@pytest.mark.django_db(transaction=True)
def test_warms_again_when_due_and_picks_up_new_tasks(make_task, forget_modules, unfreeze):
    make_task("eztm_echo")
    warmer = warmup.Warmer(every=3600)
    warmer.before_fork()
    make_task("eztm_lines")

    warmer.before_fork()  # not due: the new task's command is left to its run
    assert LINES_MODULE not in sys.modules

    warmer.every = 0
    warmer.before_fork()
    assert LINES_MODULE in sys.modules


@pytest.mark.django_db(transaction=True)
@override_settings(EZTASKMANAGER_WARM_WORKER=False)
def test_warm_worker_false_turns_the_warm_up_off(make_task, forget_modules, unfreeze):
    make_task("eztm_echo")
    warmer = warmup.Warmer()

    warmer.before_fork()

    assert ECHO_MODULE not in sys.modules
    assert warmer.warmed_at is None
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_warm_up_without_a_database_leaves_the_worker_working(unfreeze):
    good = connection.settings_dict
    broken = dict(good, NAME="/nonexistent/dir/db.sqlite3")
    if connection.vendor == "postgresql":
        broken = dict(good, PORT="1")
    connection.close()
    connection.settings_dict = broken
    try:
        warmer = warmup.Warmer()
        warmer.before_fork()  # logs a warning, raises nothing
    finally:
        connection.close()
        connection.settings_dict = good

    assert warmer.warmed_at is not None
