"""A missing scheduler: one warning to the notification handlers, one all-clear when it is back.

Email through Django's locmem backend (pytest-django's ``mailoutbox``); the worker side runs a
real ``TaskWorker`` on the test run's Redis, the scheduler side a ``TaskScheduler`` on fakeredis.
"""

from __future__ import annotations

import os
import time

import pytest

from eztaskmanager.backends.rq import MISSING_KEY, SEEN_KEY
from eztaskmanager.notifications import liveness
from eztaskmanager.worker import TaskWorker
from tests.notifications.test_notifications import EMAIL
from tests.scheduler.test_sync import make_scheduler

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_handler(settings):
    settings.EZTASKMANAGER_SCHEDULER_MISSING_SECONDS = 300
    settings.EZTASKMANAGER_NOTIFICATION_HANDLERS = {
        "mail": {"class": EMAIL, "from_email": None, "recipients": ["ops@example.com"]}
        | {"level": "failed"}
    }


def subjects(mailoutbox) -> list[str]:
    return [message.subject for message in mailoutbox]


def test_no_scheduler_for_too_long_warns_once(fake_redis, mail_handler, mailoutbox):
    now = time.time()
    fake_redis.set(SEEN_KEY, now - 400)
    assert liveness.check_scheduler(fake_redis, watching_since=now - 1000, now=now)
    assert not liveness.check_scheduler(fake_redis, watching_since=now - 1000, now=now + 60)
    [subject] = subjects(mailoutbox)
    assert subject.endswith("No scheduler seen for 400 s")
    assert "last seen: 20" in mailoutbox[0].body  # the local time of the last sighting


def test_a_scheduler_seen_lately_is_no_news(fake_redis, mail_handler, mailoutbox):
    now = time.time()
    fake_redis.set(SEEN_KEY, now - 10)
    assert not liveness.check_scheduler(fake_redis, watching_since=now - 1000, now=now)
    assert fake_redis.get(MISSING_KEY) is None and mailoutbox == []


def test_never_seen_counts_from_when_the_worker_began_to_watch(
    fake_redis, mail_handler, mailoutbox, settings
):
    now = time.time()
    assert not liveness.check_scheduler(fake_redis, watching_since=now - 100, now=now)
    assert liveness.check_scheduler(fake_redis, watching_since=now - 100, now=now + 250)
    assert "last seen: never" in mailoutbox[0].body
    settings.EZTASKMANAGER_SCHEDULER_MISSING_SECONDS = 0  # off: never a warning
    fake_redis.delete(MISSING_KEY)
    assert not liveness.check_scheduler(fake_redis, watching_since=0, now=now)


def test_the_scheduler_coming_back_sends_the_all_clear_once(fake_backend, mail_handler, mailoutbox):
    connection = fake_backend.connection
    connection.set(MISSING_KEY, "1")  # a worker warned
    scheduler = make_scheduler(fake_backend)
    scheduler.heartbeat()
    assert connection.get(MISSING_KEY) is None and connection.get(SEEN_KEY) is not None
    scheduler._seen_at = 0.0  # its next stamp
    scheduler.heartbeat()
    assert [s.split("] ")[-1] for s in subjects(mailoutbox)] == ["A scheduler runs again"]


def test_a_task_worker_watches_from_its_own_process_only(real_redis, mail_handler, mailoutbox):
    from rq import Queue

    worker = TaskWorker([Queue("default", connection=real_redis)], connection=real_redis)
    worker._watching = (os.getpid(), time.time() - 1000)  # alone for 1,000 s
    worker.heartbeat()
    assert len(mailoutbox) == 1 and real_redis.get(MISSING_KEY) == b"1"
    worker.watch_scheduler()  # within CHECK_EVERY: not even a look
    real_redis.delete(MISSING_KEY)
    worker._next_watch = 0.0
    worker._watching = (os.getpid() + 1, time.time() - 1000)  # as in a work horse
    worker.watch_scheduler()
    assert len(mailoutbox) == 1 and real_redis.get(MISSING_KEY) is None
    assert worker.dequeue_timeout <= 60
