"""Shared fixtures: model factories (from tests/factories.py), Redis (fake and real) and the
RQ backend on each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories
from tests.factories import fail_run  # noqa: F401 - imported from here by older tests

ROOT = Path(__file__).resolve().parent.parent


def unavailable(reason: str):
    """Skip a test whose service is missing, naming it; fail instead under EZTM_REQUIRE_ALL=1."""
    if os.environ.get("EZTM_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def redis_problem() -> str:
    """Why the real Redis of this test run cannot be used ("" when it can)."""
    import redis
    from django.conf import settings

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return (
            f"Redis is not reachable at {settings.REDIS_URL} ({exc}); `make test` starts "
            "redis-server on 127.0.0.1:6379 when it is installed"
        )
    return ""


@pytest.fixture(autouse=True)
def _needs_redis(request):
    """Tests marked ``redis`` (they use the real Redis without ``real_redis``) check it first."""
    if request.node.get_closest_marker("redis"):
        problem = redis_problem()
        if problem:
            unavailable(problem)


@pytest.fixture
def make_command(db):
    """Return the AppCommand row of a real management command (created if missing)."""
    return factories.make_command


@pytest.fixture
def make_task(db):
    """Create a Task running ``command`` with ``arguments`` and any other field."""
    return factories.make_task


@pytest.fixture
def fake_redis():
    """A fakeredis connection (in-process) for fast unit tests."""
    import fakeredis

    return fakeredis.FakeRedis()


def rq_service_on(connection):
    """An RQTaskQueueService (the 0.5.x facade) whose queue and scheduler use ``connection``
    (for tests/compat/test_queues.py and the integration tests)."""
    from eztaskmanager.services.queues import RQTaskQueueService

    return RQTaskQueueService(connection=connection)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs what the code inside defers to the commit, as a real
    commit would (tests run inside a transaction that never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def fake_backend(fake_redis):
    """The RQ backend (queue, scheduler, the operations' target) on fakeredis."""
    from eztaskmanager.backends import RQBackend

    return RQBackend(connection=fake_redis)


@pytest.fixture
def real_redis():
    """The real Redis, on the db number this test run claimed; emptied before each test."""
    import redis
    from django.conf import settings

    problem = redis_problem()
    if problem:
        unavailable(problem)
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


def subprocess_env() -> dict[str, str]:
    """Environment for a manage.py subprocess sharing this test run's database and Redis."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        EZTM_DB_NAME=str(connection.settings_dict["NAME"]),
        EZTM_REDIS_URL=settings.REDIS_URL,
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``django-admin <args>`` for this test run and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def slack_server():
    """A local HTTP server speaking the Slack Web API and webhooks (``test_notifications``)."""
    import threading

    from tests.notifications.test_notifications import LocalSlackServer

    server = LocalSlackServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
