"""Helpers shared by the benchmark areas: results, timing, queries, tasks and subprocesses."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Logs of the worker and scheduler processes, and their bytecode cache.
SCRATCH = Path(tempfile.gettempdir()) / "eztm-bench"
LOG_DIR = SCRATCH / "logs"
LOG_DIR.mkdir(parents=True, exist_ok=True)


@dataclass
class Sizes:
    """How big each benchmark is; ``QUICK`` is for a smoke run of a minute or two."""

    ingestion_lines: int = 20_000
    ingestion_repeats: int = 5
    overhead_runs: int = 200
    drain_jobs: int = 200
    drain_repeats: int = 3
    point_runs: int = 10
    admin_tasks: tuple[int, int] = (100, 10_000)
    admin_requests: int = 10
    tail_lines: tuple[int, int] = (20, 1_000_000)
    tail_polls: int = 50
    memory_lines: tuple[int, int] = (10_000, 1_000_000)
    recovery_tasks: int = 10_000
    horse_runs: int = 10_000


FULL = Sizes()
QUICK = Sizes(
    ingestion_lines=5_000,
    ingestion_repeats=3,
    overhead_runs=50,
    drain_jobs=50,
    drain_repeats=1,
    point_runs=5,
    admin_tasks=(100, 2_000),
    admin_requests=5,
    tail_lines=(20, 100_000),
    tail_polls=20,
    memory_lines=(10_000, 100_000),
    recovery_tasks=2_000,
    horse_runs=2_000,
)


@dataclass
class Row:
    """One figure beside its baseline, and the target it is held to (if any)."""

    area: str
    figure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def median(values) -> float:
    return statistics.median(values)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed(func, *args, **kwargs) -> tuple[float, object]:
    """Seconds taken by ``func(*args, **kwargs)``, and what it returned."""
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return time.perf_counter() - start, value


TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


def count_queries(func, *args, **kwargs) -> tuple[int, object]:
    """SQL statements the default connection ran during ``func(...)``, and what it returned.

    Django also records each BEGIN and COMMIT of a transaction; they are not counted. Kept apart
    from timed runs: recording queries costs time of its own.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        value = func(*args, **kwargs)
    queries = [q for q in context.captured_queries if q["sql"] not in TRANSACTION_CONTROL]
    return len(queries), value


def command_row(name: str):
    """The AppCommand row of a management command (created if missing)."""
    from django.core.management import get_commands

    from eztaskmanager.models import AppCommand

    command, _ = AppCommand.objects.get_or_create(
        name=name, app_name=get_commands()[name], defaults={"active": True}
    )
    return command


def make_task(command: str, arguments: str = "", **fields):
    from eztaskmanager.models import Task

    fields.setdefault("name", f"bench {command} {arguments}".strip())
    return Task.objects.create(command=command_row(command), arguments=arguments, **fields)


def delete_reports(task) -> None:
    """Delete a task's reports and their log lines without loading them."""
    from eztaskmanager.models import LaunchReport, Log

    ids = list(LaunchReport.objects.filter(task=task).values_list("id", flat=True))
    Log.objects.filter(launch_report_id__in=ids)._raw_delete(Log.objects.db)
    LaunchReport.objects.filter(id__in=ids)._raw_delete(LaunchReport.objects.db)


def analyze(model) -> None:
    """After a bulk insert on PostgreSQL, do now what autovacuum would do during the timings."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


# -- subprocesses -----------------------------------------------------------------------------


def subprocess_env() -> dict[str, str]:
    """Environment of a manage.py subprocess sharing this run's database and Redis."""
    from django.db import connection

    env = dict(os.environ)
    # Bytecode cached as on a deployed site (a work horse imports modules per job), kept out
    # of the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(SCRATCH / "pycache")
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        EZTM_BENCH_DB_NAME=str(connection.settings_dict["NAME"]),
        PYTHONUNBUFFERED="1",
    )
    return env


def django_admin(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", *args]


def run_manage(*args: str, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``django-admin <args>`` to the end; return its wall time and the finished process."""
    start = time.perf_counter()
    done = subprocess.run(
        django_admin(*args),
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        command = " ".join(args)
        raise RuntimeError(f"{command} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, done


class Processes:
    """Long-running manage.py subprocesses (worker, scheduler); ``stop_all`` ends them."""

    def __init__(self):
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str) -> subprocess.Popen:
        path = LOG_DIR / f"{args[0]}-{os.getpid()}-{len(self.started)}.log"
        with open(path, "w") as log:
            process = subprocess.Popen(
                django_admin(*args),
                env=subprocess_env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((process, path))
        return process

    def output(self, process: subprocess.Popen) -> str:
        for started, path in self.started:
            if started is process:
                return path.read_text(errors="replace")
        return ""

    def stop_all(self) -> None:
        for process, _path in self.started:
            if process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
        self.started.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop_all()


def clear_queue() -> None:
    """Empty the benchmark queue and its registries (only keys of our claimed Redis db)."""
    import django_rq

    queue = django_rq.get_queue("default")
    queue.empty()
    for registry in (
        queue.finished_job_registry,
        queue.failed_job_registry,
        queue.started_job_registry,
    ):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)


def rst_table(header: list[str], body: list[list[str]]) -> str:
    """``body`` under ``header`` as a reStructuredText simple table (plain text too)."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    border = "  ".join("=" * w for w in widths)

    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([border, line(header), border, *(line(row) for row in body), border])


@contextmanager
def scratch_site(args, sqlite_wal: bool = False):
    """For a script run on its own: a Redis db of its own on ``args.redis``, the benchmark
    settings on ``args.db`` (SQLite in WAL mode with ``sqlite_wal``), and a fresh test
    database, destroyed at the end."""
    from benchmarks.run import claim_redis_db

    redis_url, release_redis = claim_redis_db(args.redis)
    os.environ["EZTM_BENCH_REDIS_URL"] = redis_url
    os.environ["EZTM_BENCH_DB"] = args.db
    if sqlite_wal:
        os.environ["EZTM_BENCH_SQLITE_WAL"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    try:
        import django

        django.setup()
        from django.db import connection

        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        os.environ["EZTM_BENCH_DB_NAME"] = str(connection.settings_dict["NAME"])
        try:
            yield
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        release_redis()
