"""The scheduler through a Redis outage (fakeredis with its connection cut), and its backoff."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta

import fakeredis
import pytest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue

from eztaskmanager import operations
from eztaskmanager.backends import RQBackend
from eztaskmanager.models import LaunchReport
from eztaskmanager.scheduler.outage import Backoff, run_through_outages
from eztaskmanager.scheduler.process import TaskScheduler


def test_backoff_doubles_up_to_its_cap_and_measures_the_outage():
    backoff = Backoff(first=0.1, cap=0.5)
    assert backoff.succeeded() is None  # no outage to end
    assert [backoff.failed() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    time.sleep(0.05)
    assert backoff.succeeded() >= 0.05
    assert backoff.failed() == 0.1  # a new outage starts from the first delay


@pytest.fixture
def server():
    return fakeredis.FakeServer()


@pytest.fixture
def scheduler_and_job(server, make_task):
    """A TaskScheduler on fakeredis and the id of a periodic job already due."""
    connection = fakeredis.FakeRedis(server=server)
    task = make_task(
        name="every minute",
        scheduling=timezone.now() - timedelta(hours=1),
        repetition_period="minute",
        repetition_rate=1,
    )
    service = RQBackend(connection=connection)
    job = operations.schedule(task, service, defer=False)
    connection.zadd(service.scheduler.scheduled_jobs_key, {job.id: time.time() - 1})
    queue = Queue("default", connection=connection)
    scheduler = TaskScheduler(queue=queue, connection=connection, interval=0.05, sync_interval=0)
    return scheduler, job.id


@pytest.fixture
def keep_signal_handlers():
    """The scheduler loop installs SIGINT / SIGTERM handlers: give pytest its own back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_scheduler_waits_for_redis_and_goes_on(
    transactional_db, server, scheduler_and_job, keep_signal_handlers, caplog
):
    scheduler, job_id = scheduler_and_job
    server.connected = False
    back = threading.Timer(0.6, lambda: setattr(server, "connected", True))
    back.start()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="eztaskmanager.scheduler.outage"):
        run_through_outages(scheduler, burst=True)  # returns after one pass that ran
    back.join()
    assert time.monotonic() - started >= 0.6  # it waited for Redis instead of giving up
    [report] = LaunchReport.objects.all()
    assert Queue("default", connection=scheduler.connection).job_ids == [report.rq_job_id]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages  # one line when Redis goes, one when it is back
    assert messages[0].startswith("Redis unreachable")
    assert messages[1].startswith("Redis reachable again after")


def test_a_firing_claimed_before_redis_went_away_is_enqueued_after(
    transactional_db, server, scheduler_and_job
):
    scheduler, job_id = scheduler_and_job
    queue = Queue("default", connection=scheduler.connection)
    claim = scheduler.backend.claim

    def claim_then_lose_redis(*args, **kwargs):
        won = claim(*args, **kwargs)
        server.connected = False  # between the claim and the enqueue
        return won

    scheduler.backend.claim = claim_then_lose_redis
    with pytest.raises(RedisConnectionError):
        scheduler.enqueue_jobs()
    server.connected = True
    scheduler.backend.claim = claim
    # The claim moved the job to its next minute: only the kept firing can put it on the queue.
    score = scheduler.connection.zscore(scheduler.scheduled_jobs_key, job_id)
    assert score > time.time()
    assert queue.job_ids == []
    scheduler.enqueue_jobs()
    [report] = LaunchReport.objects.all()  # the firing, recorded once
    assert queue.job_ids == [report.rq_job_id]
    scheduler.enqueue_jobs()
    assert queue.job_ids == [report.rq_job_id]  # enqueued once


def test_sigterm_stops_the_scheduler_during_an_outage(
    transactional_db, server, scheduler_and_job, keep_signal_handlers
):
    scheduler, _ = scheduler_and_job
    server.connected = False
    # The process manager's SIGTERM, while the loop retries.
    stop = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    stop.start()
    with pytest.raises(SystemExit):
        run_through_outages(scheduler)  # no burst: only a signal ends it
    stop.join()


def test_a_second_signal_while_stopping_does_not_skip_the_death_record(
    transactional_db, scheduler_and_job, keep_signal_handlers
):
    """Ctrl-C reaches the whole process group and a process manager adds its SIGTERM: the
    second signal lands during the cleanup, which must still record the scheduler's death."""
    from eztaskmanager.backends.rq import _schedulers

    scheduler, _ = scheduler_and_job
    release = scheduler.remove_lock
    signals = iter([signal.SIGINT, signal.SIGTERM])

    def remove_lock_then_signal():
        release()
        number = next(signals, None)
        if number is not None:
            os.kill(os.getpid(), number)  # the first ends the loop, the second hits the cleanup

    scheduler.remove_lock = remove_lock_then_signal
    with pytest.raises(SystemExit):
        run_through_outages(scheduler)
    assert _schedulers(scheduler.connection) == []  # its death is recorded: not listed alive


@pytest.mark.parametrize("outage", [False, True])
def test_no_run_is_reaped_in_the_first_pass_after_a_database_outage(
    transactional_db, scheduler_and_job, keep_signal_handlers, make_task, outage
):
    """A run's heartbeat cannot be written while the database is away: the pass that works
    again must not take its silence for death (without an outage, the same run is reaped)."""
    from django.db import OperationalError

    from tests.factories import running_report

    scheduler, _ = scheduler_and_job
    stale = timezone.now() - timedelta(seconds=60)  # past ORPHAN_AFTER_SECONDS (3 s in tests)
    report = running_report(make_task(name="long run"), started_at=stale, heartbeat_at=stale)
    passes = scheduler.enqueue_jobs
    failures = [OperationalError("the database system is shutting down")] if outage else []

    def database_away_once():
        if failures:
            raise failures.pop()
        return passes()

    scheduler.enqueue_jobs = database_away_once
    run_through_outages(scheduler, burst=True)
    report.refresh_from_db()
    if outage:
        assert report.invocation_result == ""  # still running: its beat may come
    else:
        assert (report.invocation_result, report.failure_reason) == ("failed", "worker died")
