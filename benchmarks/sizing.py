"""Sizing figures for a deployment: runs per worker per minute, database bytes per run and per line.

    python benchmarks/sizing.py [--db sqlite|postgres] [--runs 200] [--lines 20000]

Needs Redis at 127.0.0.1:6379 (or ``--redis``); like ``run.py`` it claims a free Redis database
number and creates a database of its own, dropped at the end. One ``TaskWorker`` process runs
``--runs`` launches of a no-op task; the rate counts from the first run's start to the last
run's end, so the worker's own start-up is left out. The database cost is the growth of the
tables (indexes included) after the runs and after one run logging ``--lines`` lines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Reports kept per task (the default of EZTASKMANAGER_N_REPORTS_INLINE): the launches are spread
# over tasks so that pruning keeps every report measured.
REPORTS_KEPT = 10


def table_bytes(model) -> int:
    """Bytes the model's table and its indexes take in the database."""
    from django.db import connection

    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return cursor.fetchone()[0]
        # SQLite: pages in use by the table and its indexes (dbstat), else by the whole file.
        try:
            cursor.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name = %s OR name IN "
                "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s)",
                [table, table],
            )
            return cursor.fetchone()[0] or 0
        except Exception:  # noqa: BLE001 - SQLite built without dbstat
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA freelist_count")
            pages -= cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            return pages * cursor.fetchone()[0]


def worker_rate(runs: int, say) -> dict:
    """Runs per minute of one TaskWorker draining ``runs`` no-op launches."""
    from benchmarks.common import Processes, clear_queue, make_task, wait_for
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services.queues import RQTaskQueueService

    service = RQTaskQueueService()
    tasks = [make_task("bench_noop", name=f"sizing no-op {i}") for i in range(runs // REPORTS_KEPT)]
    clear_queue()
    with Processes() as processes:
        worker = processes.start("rqworker", "default")
        # Warm up: the worker's imports and connections, the first fork.
        service.launch(tasks[0])
        wait_for(lambda: LaunchReport.objects.exclude(invocation_result="").exists(), 60)
        LaunchReport.objects.all().delete()
        report_bytes_before = table_bytes(LaunchReport)
        for task in tasks:
            for _ in range(REPORTS_KEPT):
                service.launch(task)
        say(f"   {len(tasks) * REPORTS_KEPT} launches queued")
        try:
            wait_for(
                lambda: LaunchReport.objects.exclude(invocation_result="").count() >= runs,
                timeout=600,
                interval=0.5,
                what=f"{runs} runs",
            )
        except RuntimeError:
            say(processes.output(worker)[-3000:])
            raise
    reports = LaunchReport.objects.all()
    first = min(r.started_at for r in reports)
    last = max(r.finished_at for r in reports)
    results = sorted(set(reports.values_list("invocation_result", flat=True)))
    span = (last - first).total_seconds()
    return {
        "runs": reports.count(),
        "results": results,
        "seconds": round(span, 2),
        "runs_per_minute": round((reports.count() - 1) / span * 60),
        "bytes_per_report": round((table_bytes(LaunchReport) - report_bytes_before) / runs),
    }


def log_cost(lines: int) -> dict:
    """Database bytes per stored log line, from one run logging ``lines`` INFO lines."""
    from benchmarks.common import make_task
    from eztaskmanager.models import Log
    from eztaskmanager.services import run_management_command

    task = make_task("bench_lines", f"{lines}, --verbosity 2", name="sizing log lines")
    before = table_bytes(Log)
    report = run_management_command(task.pk)
    message_bytes = sum(len(m.encode()) for m in Log.objects.values_list("message", flat=True))
    stored = Log.objects.filter(launch_report=report).count()
    return {
        "lines": stored,
        "result": report.invocation_result,
        "message_bytes_per_line": round(message_bytes / stored, 1),
        "bytes_per_line": round((table_bytes(Log) - before) / stored, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server URL")
    parser.add_argument("--runs", type=int, default=200, help="no-op launches for the rate")
    parser.add_argument("--lines", type=int, default=20_000, help="log lines for the cost")
    args = parser.parse_args(argv)
    if args.runs < 2 * REPORTS_KEPT or args.lines < 1:
        parser.error(f"--runs must be at least {2 * REPORTS_KEPT} and --lines at least 1")

    return measure(args)


def measure(args) -> int:
    from benchmarks.common import scratch_site

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with scratch_site(args):
        say("== one worker, no-op runs")
        rate = worker_rate(args.runs, say)
        say("== log lines")
        cost = log_cost(args.lines)
    print(
        f"{args.db}: one TaskWorker ran {rate['runs']} no-op runs in {rate['seconds']} s "
        f"(results {', '.join(rate['results'])}): {rate['runs_per_minute']} runs per minute; "
        f"{rate['bytes_per_report']} B per report"
    )
    print(
        f"{args.db}: {cost['lines']} log lines of {cost['message_bytes_per_line']} B of text: "
        f"{cost['bytes_per_line']} B per line in the database (table and indexes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
