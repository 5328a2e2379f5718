"""Fixtures of the integration tier: real Redis, real rqworker / rqscheduler subprocesses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

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

    def close_logs(self) -> None:
        for _, log in self.started:
            log.close()

    def dump(self) -> None:
        """Print every process's output (pytest shows it when the test fails)."""
        for process, log in self.started:
            if not log.closed:
                log.flush()
                log.seek(0)
                print(f"----- {' '.join(process.args[3:])} (pid {process.pid}) -----")
                print(log.read()[-5000:])

    def stop_all(self) -> None:
        # RQ's work horses run in sessions of their own: find them before their parents go.
        strays = [pid for process, _ in self.started for pid in descendants(process.pid)]
        for process, _ in self.started:
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
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...)."""
    found = []
    for task_dir in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task_dir / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(descendants(child))
    return found


@pytest.fixture
def processes(tmp_path, real_redis, transactional_db):
    manager = Processes(tmp_path)
    yield manager
    manager.stop_all()
    manager.dump()
    manager.close_logs()


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


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, which the test may stop and restart."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def start():
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        wait_for(lambda: _ping(client), timeout=10, what="the private Redis")
        return process

    server = {"process": start(), "start": start, "port": port}
    yield server
    server["process"].terminate()
    server["process"].wait(timeout=10)


def _ping(client):
    try:
        return client.ping()
    except redis.RedisError:
        return False
