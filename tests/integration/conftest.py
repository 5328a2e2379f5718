"""Fixtures of the integration tier: real Redis, real rqworker / rqscheduler subprocesses.

Time in this tier
-----------------
Every wait here is multiplied by ``TIME_FACTOR``: ``EZTM_TIME_FACTOR`` when set, else 2 under
``CI=true`` (shared runners with two cores, often running the matrix side by side), else 1. A
slow machine raises it (``EZTM_TIME_FACTOR=3``); nothing else changes.

Two kinds of waits:

* guards against a hang (``HANG_GUARD``, minutes): the default of ``wait_for``, ``wait_process``
  and ``manage``; they only decide how long a broken test takes to fail;
* bounds that are the behaviour under test ("the run ends within 5 s of a stop"): as few as
  possible (ordering and count assertions are preferred), each passed through ``patience()`` and
  commented with what it measures.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT, subprocess_env
from tests.conftest import manage as _manage

#: The multiplier of every wait of this tier (see the module's docstring).
TIME_FACTOR = float(
    os.environ.get("EZTM_TIME_FACTOR") or ("2" if os.environ.get("CI") == "true" else "1")
)
#: Seconds a test waits for something that only a hang would keep from happening (× factor).
HANG_GUARD = 180.0

TASK_WORKER_CLASS = "eztaskmanager.worker.TaskWorker"
WARM_TASK_WORKER_CLASS = "eztaskmanager.worker.WarmTaskWorker"
# TaskWorker's guarantees hold for WarmTaskWorker too: a test marked with this (taking
# ``worker_class``) runs with each.
in_both_worker_modes = pytest.mark.parametrize(
    "worker_class", [TASK_WORKER_CLASS, WARM_TASK_WORKER_CLASS], ids=["forking", "warm"]
)


def rqworker(worker_class: str, *queues: str) -> tuple[str, ...]:
    """The arguments of ``manage.py rqworker`` with ``worker_class`` on ``queues`` (default)."""
    return ("rqworker", "--worker-class", worker_class, *(queues or ("default",)))


def patience(seconds: float) -> float:
    """``seconds`` scaled by ``TIME_FACTOR``: how long to wait on this machine."""
    return seconds * TIME_FACTOR


def wait_process(process: subprocess.Popen, timeout: float = HANG_GUARD) -> int:
    """``process.wait`` with a scaled timeout (a hang guard unless a test says otherwise)."""
    return process.wait(timeout=patience(timeout))


def manage(*args: str, timeout: float = HANG_GUARD, **kwargs) -> subprocess.CompletedProcess:
    """``tests.conftest.manage`` with a scaled hang guard (a burst worker took over 60 s on a
    loaded 2-core machine)."""
    return _manage(*args, timeout=patience(timeout), **kwargs)


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
                    wait_process(process, timeout=10)  # then SIGKILL: no hang either way
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    wait_process(process)
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


def wait_for(
    predicate, timeout: float = HANG_GUARD, interval: float = 0.05, what: str = "condition"
):
    """Poll ``predicate`` until it returns something true (returned) for ``patience(timeout)`` s.

    Leave ``timeout`` out for a hang guard; pass one only when the bound is the behaviour under
    test, with a comment saying what it measures.
    """
    scaled = patience(timeout)
    deadline = time.monotonic() + scaled
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {scaled:g} s ({timeout:g} s x EZTM_TIME_FACTOR {TIME_FACTOR:g}) "
        f"waiting for {what}"
    )


def stop_firings(task, connection, job_id: str, check=lambda: None) -> None:
    """Pause ``task``'s schedule as the admin does (no sync applies it again), then wait until a
    running scheduler has taken its job ``job_id`` out of the scheduled set on ``connection``.
    A firing that read the task before the pause may still record its launch; once the job is
    out of the set (a scheduler handles one firing at a time), every launch is in the database.
    ``check`` is called on each poll (a supervised process restarted, say)."""
    from eztaskmanager.backends.rq import SCHEDULED_KEY
    from eztaskmanager.records import taskstate

    taskstate.unschedule(task, pause=True)

    def dropped():
        check()
        return connection.zscore(SCHEDULED_KEY, job_id) is None

    wait_for(dropped, what="the scheduler to drop the paused schedule")


def enqueued_firings(log: str, job_id: str) -> list[float]:
    """Due times of the firings a scheduler put on the queue, from its ``-v 2`` log: the
    scheduler's own record of which firing it sent, whatever the machine's load."""
    return [float(due) for due in re.findall(rf"Enqueued firing {job_id} due at ([0-9.]+)", log)]


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
        wait_for(lambda: _ping(client), what="the private Redis")
        return process

    server = {"process": start(), "start": start, "port": port}
    yield server
    server["process"].terminate()
    wait_process(server["process"])


def _ping(client):
    try:
        return client.ping()
    except redis.RedisError:
        return False
