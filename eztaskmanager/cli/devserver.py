"""``manage.py taskmanager devserver``: web server, RQ worker and scheduler in one command.

For a demo or for development. It starts ``runserver --noreload``, ``rqworker`` (with
``TaskWorker``) and
``taskmanager scheduler`` as child processes, prefixes their output with their name, and stops
them all on Ctrl-C (SIGINT), SIGTERM or SIGHUP, or as soon as one of them stops by itself.

Redis is the one configured in ``RQ_QUEUES`` when it answers; otherwise (or with
``--embedded-redis``) this process serves an in-memory fakeredis server on a free local port,
and each child is started through ``python -m eztaskmanager --redis-url URL ...`` (see
``eztaskmanager/__main__.py``), which points every queue of ``RQ_QUEUES`` at it before running
the management command.
"""

from __future__ import annotations

import os
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.management.base import CommandError

from eztaskmanager.backends import rq as rq_backend
from eztaskmanager.backends.internals import fakeredis as fakeredis_internals

# Seconds a child has to stop after SIGTERM; RQ's worker then gets a second SIGTERM (its "cold
# shutdown", which kills a job in progress), and whatever is left after KILL_AFTER is killed.
GRACE = 2.0
KILL_AFTER = 5.0
WORKER_CLASS = "eztaskmanager.worker.TaskWorker"


def parse_addrport(addrport: str) -> tuple[str, int]:
    """``"8000"``, ``"0.0.0.0:8000"`` or ``"[::1]:8000"`` as (host, port)."""
    host, _, port = addrport.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        raise CommandError(f"{addrport!r} is not a port or an address:port.")
    return host, int(port)


class EmbeddedRedis:
    """An in-memory fakeredis server on a TCP port, served by threads of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        try:
            self.server = fakeredis_internals.tcp_server((host, port))
        except ImportError as exc:
            raise CommandError(str(exc)) from exc
        # A client's blocking read (a worker waiting for jobs) holds its thread until it times
        # out, even after the client is gone: stopping must not wait for those threads.
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.host, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="embedded-redis", daemon=True
        )

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def descendants(pid: int) -> list[int]:
    """Processes descending from ``pid`` (read from /proc; empty where there is none)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) is in parentheses and may hold blanks.
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def stop_processes(live: list) -> None:
    """SIGTERM, then SIGTERM again (RQ's cold shutdown), then SIGKILL, to ``live`` and every
    process they started."""
    left_behind = {pid for process in live for pid in descendants(process.pid)}
    for process in live:
        _signal(process, signal.SIGTERM)
    live = _wait(live, GRACE)
    for process in live:
        _signal(process, signal.SIGTERM)
    live = _wait(live, KILL_AFTER)
    for process in live:
        process.kill()
    for process in live:
        process.wait()
    for pid in left_behind:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # already gone, as it should be


@dataclass
class DevServer:
    """Starts the children, watches them, and stops them all together."""

    addrport: str = "127.0.0.1:8000"
    queue_name: str = "default"
    embedded_redis: bool = False
    write: Callable[[str], None] = print
    banner: str = ""
    ready_timeout: float = 60.0
    children: list[Child] = field(default_factory=list)

    def __post_init__(self):
        self.host, self.port = parse_addrport(self.addrport)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.redis: EmbeddedRedis | None = None

    def say(self, text: str) -> None:
        with self.lock:
            self.write(text)

    def run(self) -> None:
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        stopped: Child | None = None
        try:
            redis_url = self.choose_redis()
            self.children = [
                Child("web", ["runserver", "--noreload", f"{self._bind_host()}:{self.port}"]),
                Child("worker", ["rqworker", "--worker-class", WORKER_CLASS, self.queue_name]),
                Child("scheduler", ["taskmanager", "scheduler", "--queue", self.queue_name]),
            ]
            for child in self.children:
                self.start(child, redis_url)
            stopped = self.wait_until_ready()
            if stopped is None:
                self.say(
                    f"\n  django-eztaskmanager is running: {self.url()}\n"
                    + (f"  {self.banner}\n" if self.banner else "")
                    + "  Ctrl-C stops the web server, the worker and the scheduler.\n"
                )
            while stopped is None and not self.stopping.wait(0.2):
                stopped = self.stopped_child()
        finally:
            self.stop_children()
            if self.redis is not None:
                self.redis.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if stopped is not None and not self.stopping.is_set():
            code = stopped.process.returncode
            raise CommandError(
                f"The {stopped.name} process stopped (exit status {code}), so everything was "
                "stopped; its output above says why."
            )
        self.say("Stopped: web server, worker and scheduler.")

    def _on_signal(self, signum, frame) -> None:
        self.stopping.set()

    def _bind_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def url(self) -> str:
        from django.urls import NoReverseMatch, reverse

        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self._bind_host()
        try:
            path = reverse("admin:index")
        except NoReverseMatch:
            path = "/"
        return f"http://{host}:{self.port}{path}"

    def choose_redis(self) -> str | None:
        """The URL of the embedded server the children must use, or None for the configured one."""
        redis_location = rq_backend.location
        if not self.embedded_redis:
            connection = rq_backend.RQBackend(self.queue_name).connection
            problem = rq_backend.problem(connection)
            if not problem:
                self.say(f"Redis: {redis_location(connection)}")
                return None
            self.say(
                f"Redis is not reachable at {redis_location(connection)} ({problem}): "
                "starting an embedded one."
            )
        self.redis = EmbeddedRedis().start()
        self.say(f"Redis: embedded fakeredis at {self.redis.url} (in memory, gone when stopped)")
        return self.redis.url

    def start(self, child: Child, redis_url: str | None) -> None:
        # The package's own entry point: it imports nothing that needs Django set up first.
        launcher = [sys.executable, "-m", "eztaskmanager"]
        if redis_url:
            launcher += ["--redis-url", redis_url]
        child.process = subprocess.Popen(
            [*launcher, *child.command],
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
        child.reader = threading.Thread(
            target=self._relay, args=(child,), name=f"relay-{child.name}", daemon=True
        )
        child.reader.start()

    def _relay(self, child: Child) -> None:
        prefix = f"{child.name:<9} | "
        for line in child.process.stdout:
            self.say(prefix + line.rstrip("\n"))

    def stopped_child(self) -> Child | None:
        for child in self.children:
            if not child.running:
                # A Ctrl-C from a terminal reaches the children too: give our handler a moment.
                return None if self.stopping.wait(0.5) else child
        return None

    def wait_until_ready(self) -> Child | None:
        """Wait for the web server to accept connections; a child that stopped meanwhile."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        deadline = time.monotonic() + self.ready_timeout
        while not self.stopping.is_set() and time.monotonic() < deadline:
            stopped = self.stopped_child()
            if stopped is not None:
                return stopped
            try:
                with socket.create_connection((host, self.port), timeout=0.5):
                    return None
            except OSError:
                time.sleep(0.2)
        return None

    def stop_children(self) -> None:
        """SIGTERM, then SIGTERM again (RQ's cold shutdown), then SIGKILL; no process is left."""
        stop_processes([c.process for c in self.children if c.running])
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)


def _signal(process: subprocess.Popen, signum: int) -> None:
    try:
        process.send_signal(signum)
    except OSError:
        pass


def _wait(processes: list[subprocess.Popen], seconds: float) -> list[subprocess.Popen]:
    """Wait up to ``seconds`` for the processes to exit; those still running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes = [p for p in processes if p.poll() is None]
        if not processes:
            break
        time.sleep(0.05)
    return [p for p in processes if p.poll() is None]


def child_env() -> dict[str, str]:
    """This process's environment; the project (and this package) importable as here."""
    env = dict(os.environ)
    paths = [os.path.abspath(sys.path[0] or os.getcwd())]
    package_root = Path(__file__).resolve().parents[2]
    site_dirs = {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages())}
    if package_root not in site_dirs:
        paths.append(str(package_root))
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env
