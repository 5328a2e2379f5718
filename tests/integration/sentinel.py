"""A throwaway Redis master, replica and sentinel on free ports, for failover tests.

Real ``redis-server`` and ``redis-sentinel`` processes from the system's packages, each in its own
process group and temporary directory, always stopped by ``stop()``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.integration.conftest import HANG_GUARD, patience, wait_process

MASTER_NAME = "eztm"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_binaries() -> list[str]:
    """The Redis programs this machine lacks (``apt-get install redis-server redis-sentinel``)."""
    return [name for name in ("redis-server", "redis-sentinel") if shutil.which(name) is None]


class SentinelCluster:
    """One master, one replica and one sentinel watching them (quorum 1, 1 s down-after)."""

    def __init__(self, workdir: Path, down_after_ms: int = 1000):
        self.workdir = workdir
        self.down_after_ms = down_after_ms
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.sentinel_port)]

    def env(self) -> dict[str, str]:
        """Variables that make ``tests/settings.py`` configure RQ through this sentinel."""
        return {
            "EZTM_REDIS_SENTINELS": f"127.0.0.1:{self.sentinel_port}",
            "EZTM_REDIS_MASTER_NAME": MASTER_NAME,
        }

    def _spawn(self, name: str, *args: str) -> None:
        directory = self.workdir / name
        directory.mkdir(parents=True, exist_ok=True)
        log = open(directory / "out.log", "w")
        self.processes[name] = subprocess.Popen(
            list(args),
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _server(self, name: str, port: int, *extra: str) -> None:
        # No persistence: a restart must not bring old data back into the test.
        self._spawn(
            name, "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", *extra,
        )  # fmt: skip

    def start(self, timeout: float = HANG_GUARD) -> None:
        self._server("master", self.master_port)
        self._server(
            "replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port)
        )
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.workdir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self._spawn("sentinel", "redis-sentinel", str(config))
        self._wait(self._ready, timeout, "master, replica and sentinel to see each other")

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)

    def _ready(self) -> bool:
        try:
            link = self.client(self.replica_port).info("replication").get("master_link_status")
            sentinel = self.client(self.sentinel_port)
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
        except redis.RedisError:
            return False
        return link == "up" and len(replicas) == 1

    def master_port_now(self) -> int | None:
        """The master's port as the sentinel announces it."""
        try:
            address = self.client(self.sentinel_port).execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
            )
        except redis.RedisError:
            return None
        return int(address[1]) if address else None

    def kill_master(self) -> None:
        """SIGKILL the master: no goodbye to clients, replica or sentinel."""
        os.kill(self.processes["master"].pid, signal.SIGKILL)
        wait_process(self.processes["master"])

    def wait_for_failover(self, timeout: float = HANG_GUARD) -> None:
        self._wait(
            lambda: (
                self.master_port_now() == self.replica_port
                and self.client(self.replica_port).info("replication")["role"] == "master"
            ),
            timeout,
            "the sentinel to promote the replica",
        )

    @staticmethod
    def _wait(predicate, timeout: float, what: str) -> None:
        timeout = patience(timeout)  # the factor of the tier (tests/integration/conftest.py)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_process(process)

    def logs(self) -> str:
        parts = []
        for name in self.processes:
            path = self.workdir / name / "out.log"
            if path.exists():
                parts.append(f"----- {name} -----\n{path.read_text()[-3000:]}")
        return "\n".join(parts)
