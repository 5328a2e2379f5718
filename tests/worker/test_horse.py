"""The resident horse's helpers (eztaskmanager.worker.horse), in this process."""

import logging
import sys
import time

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation

from eztaskmanager.worker import horse


def test_resident_memory_is_read_from_proc():
    memory = horse.resident_memory_mb()
    assert memory is None or 1 < memory < 100_000


def test_process_state_is_put_back(settings):
    root = logging.getLogger()
    state = horse.ProcessState.take()
    before = (translation.get_language(), timezone.get_current_timezone_name(), list(sys.argv))
    added = logging.NullHandler()
    child_logger = logging.getLogger("eztm.test.horse.new")
    child_handler = logging.NullHandler()
    translation.activate("it")
    timezone.activate("Asia/Tokyo")
    root.addHandler(added)
    child_logger.addHandler(child_handler)
    saved_argv = list(sys.argv)
    sys.argv[:] = ["leaked"]
    try:
        state.restore()
    finally:
        sys.argv[:] = saved_argv
    assert added not in root.handlers
    assert child_handler not in child_logger.handlers
    assert (translation.get_language(), timezone.get_current_timezone_name()) == before[:2]


def test_keeper_retires_after_max_runs(settings):
    settings.EZTASKMANAGER_HORSE_MAX_RUNS = 2
    settings.EZTASKMANAGER_HORSE_MAX_MEMORY_MB = None
    keeper = horse.HorseKeeper()
    keeper.before_run()
    assert keeper.after_run(None, 0.1) is None
    keeper.before_run()
    assert keeper.after_run(None, 0.1) == "2 runs done"


def test_keeper_retires_after_a_timeout_and_past_memory(settings):
    settings.EZTASKMANAGER_HORSE_MAX_RUNS = None
    settings.EZTASKMANAGER_HORSE_MAX_MEMORY_MB = 1  # any process is past 1 MB
    keeper = horse.HorseKeeper()
    assert keeper.after_run(2, 2.5) == "a run reached its timeout"
    assert "past 1 MB" in keeper.after_run(None, 0.1)


def test_keeper_retires_after_a_run_that_left_a_transaction_open(settings, db):
    from eztaskmanager.models import Task

    settings.EZTASKMANAGER_HORSE_MAX_RUNS = None
    settings.EZTASKMANAGER_HORSE_MAX_MEMORY_MB = None
    keeper = horse.HorseKeeper()
    Task.objects.exists()  # the test's own transaction (pytest-django) is the open one
    assert keeper.after_run(None, 0.1) == "a run left a transaction open"


@pytest.mark.django_db(transaction=True)
def test_the_connection_stays_for_the_next_run_unless_a_statement_failed_on_it(settings):
    from eztaskmanager.models import Task

    settings.EZTASKMANAGER_HORSE_MAX_RUNS = None
    settings.EZTASKMANAGER_HORSE_MAX_MEMORY_MB = None
    keeper = horse.HorseKeeper()
    keeper.before_run()
    Task.objects.exists()
    opened = connection.connection
    assert keeper.after_run(None, 0.1) is None
    # CONN_MAX_AGE is 0 here: a request would close it, the horse keeps it.
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    assert connection.connection is opened
    assert connection.health_check_done is False  # CONN_HEALTH_CHECKS checks it at next use

    keeper.before_run()
    assert connection.connection is opened
    with pytest.raises(DatabaseError):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM eztm_no_such_table")
    with transaction.atomic():  # a good commit after it: Django alone would keep it
        Task.objects.exists()
    assert connection.errors_occurred is False
    assert keeper.after_run(None, 0.1) is None
    assert connection.connection is None
    assert connection.execute_wrappers == []  # the watch is off between runs


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_a_positive_max_age_is_closed_between_runs(monkeypatch):
    from eztaskmanager.models import Task

    Task.objects.exists()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close_at = time.monotonic() + 60  # as if opened with this setting
    horse.keep_or_close_connections()
    assert connection.connection is not None
    connection.close_at = time.monotonic() - 1
    horse.keep_or_close_connections()
    assert connection.connection is None
