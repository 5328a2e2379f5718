"""The resident horse's helpers (eztaskmanager.worker.horse), in this process."""

import logging
import sys

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
