"""Log ingestion: a logging command run as a task, against a plain ``bulk_create`` of its rows."""

from __future__ import annotations

from django.utils import timezone

from benchmarks.common import Row, count_queries, delete_reports, make_task, median, timed


def bulk_create_rows(report_id: int, n: int) -> None:
    """The floor: the same rows built and stored by ``bulk_create`` in one go."""
    from eztaskmanager.models import Log

    now = timezone.now()
    Log.objects.bulk_create(
        [
            Log(
                launch_report_id=report_id,
                timestamp=now,
                level="INFO",
                message=f"imported row {i} of {n}",
                lineno=i,
            )
            for i in range(1, n + 1)
        ]
    )


def run(sizes, say) -> tuple[list[Row], dict]:
    from eztaskmanager.models import LaunchReport, Log
    from eztaskmanager.services import run_management_command

    n = sizes.ingestion_lines
    task = make_task("bench_lines", f"{n}, --verbosity 2")
    floor_task = make_task("bench_noop", name="bulk_create floor")
    floor_report = LaunchReport.objects.create(task=floor_task)

    def task_run():
        report = run_management_command(task.pk)
        if report.invocation_result != "ok" or report.n_lines != n:
            result, lines = report.invocation_result, report.n_lines
            raise RuntimeError(f"ingestion run ended {result!r} with {lines} lines")
        return report

    def clean():
        delete_reports(task)
        Log.objects.filter(launch_report=floor_report)._raw_delete(Log.objects.db)

    run_times, floor_times = [], []
    for repeat in range(sizes.ingestion_repeats):
        # Alternate the order so that neither side always runs on a warmer database.
        order = [("floor", floor_times), ("run", run_times)]
        for kind, times in order if repeat % 2 else order[::-1]:
            if kind == "run":
                seconds, _ = timed(task_run)
            else:
                seconds, _ = timed(bulk_create_rows, floor_report.pk, n)
            times.append(seconds)
            clean()
        say(f"  ingestion {repeat + 1}: run {run_times[-1]:.2f} s, floor {floor_times[-1]:.2f} s")

    run_queries, _ = count_queries(task_run)
    clean()
    floor_queries, _ = count_queries(bulk_create_rows, floor_report.pk, n)
    clean()

    rate, floor_rate = n / median(run_times), n / median(floor_times)
    rows = [
        Row(
            "log ingestion",
            f"{n:,}-line run, lines/s",
            rate,
            "lines/s",
            "bulk_create",
            floor_rate,
            rate / floor_rate,
            ">= 0.50x floor",
            rate >= 0.5 * floor_rate,
        ),
        Row(
            "log ingestion",
            f"{n:,}-line run, queries",
            run_queries,
            "queries",
            "bulk_create",
            floor_queries,
            run_queries / floor_queries if floor_queries else None,
        ),
    ]
    details = {"lines": n, "run_seconds": run_times, "bulk_create_seconds": floor_times}
    return rows, details
