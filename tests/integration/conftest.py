"""Fixtures of the integration tier: real Redis, real rqworker / rqscheduler subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, subprocess_env


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


class Processes:
    """Starts manage.py subprocesses and always stops them (whole process groups)."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.started: list[tuple[subprocess.Popen, object]] = []

    def start(self, *args: str) -> subprocess.Popen:
        log = open(self.logdir / f"{args[0]}-{len(self.started)}.log", "w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "django", *args],
            env=subprocess_env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append((process, log))
        return process

    def output(self, process: subprocess.Popen) -> str:
        for started, log in self.started:
            if started is process:
                log.flush()
                log.seek(0)
                return log.read()
        return ""

    def stop_all(self) -> None:
        for process, log in self.started:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait(timeout=10)
            log.close()


@pytest.fixture
def processes(tmp_path, real_redis, transactional_db):
    manager = Processes(tmp_path)
    yield manager
    manager.stop_all()


@pytest.fixture
def rq_service(real_redis):
    """The RQ service as the project configures it (django-rq queues on the real Redis)."""
    from eztaskmanager.services.queues import RQTaskQueueService

    return RQTaskQueueService()


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
