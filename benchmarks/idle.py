"""Redis traffic of an idle ``taskmanager scheduler`` (default options).

Measured on a Redis server of its own (``INFO commandstats`` counts every client of a server,
and the shared one has other users): one task scheduled an hour ahead, nothing due, the
commands the server ran per minute while the scheduler waits.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import timedelta

from django.utils import timezone

from benchmarks.common import Processes, Row, make_task, wait_for

MEASURE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def total_calls(client) -> int:
    stats = client.info("commandstats")
    # INFO itself is ours, not the scheduler's.
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def run(sizes, say) -> tuple[list[Row], dict]:
    import redis

    from eztaskmanager.backends import RQBackend
    from eztaskmanager.operations import schedule

    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is needed for a Redis of the benchmark's own")
    port, workdir = free_port(), tempfile.mkdtemp(prefix="eztm-idle-")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    shared_url = os.environ["EZTM_BENCH_REDIS_URL"]
    try:
        wait_for(lambda: _ping(client), 10, what="the private Redis")
        task = make_task("bench_noop", name="idle", scheduling=timezone.now() + timedelta(hours=1))
        schedule(task, RQBackend(connection=client), defer=False)
        os.environ["EZTM_BENCH_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"  # the subprocess's
        with Processes() as processes:
            processes.start("taskmanager", "scheduler")
            time.sleep(5.0)  # started and synced
            before = total_calls(client)
            time.sleep(MEASURE_SECONDS)
            per_minute = (total_calls(client) - before) * 60 / MEASURE_SECONDS
        task.delete()
    finally:
        os.environ["EZTM_BENCH_REDIS_URL"] = shared_url
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"  idle scheduler: {per_minute:.0f} Redis commands per minute")
    row = Row("scheduling", "Redis commands per minute, idle scheduler", per_minute, "commands")
    return [row], {"seconds": MEASURE_SECONDS}


def _ping(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False
