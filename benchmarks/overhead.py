"""Per-run overhead: ``run_management_command`` of a no-op command against bare ``call_command``."""

from __future__ import annotations

from django.core.management import call_command

from benchmarks.common import Row, count_queries, make_task, median, ms, timed


def run(sizes, say) -> tuple[list[Row], dict]:
    from eztaskmanager.services import run_management_command

    task = make_task("bench_noop")

    def task_run():
        report = run_management_command(task.pk)
        if report.invocation_result != "ok":
            raise RuntimeError(f"no-op run ended {report.invocation_result!r}")

    def bare():
        call_command("bench_noop")

    for _ in range(10):  # warm up: imports, parsers, connections
        task_run()
        bare()

    bare_times, run_times = [], []
    for _ in range(sizes.overhead_runs):
        bare_times.append(timed(bare)[0])
        run_times.append(timed(task_run)[0])
    # Paired differences: a burst of load from elsewhere hits both halves of a pair.
    overhead = median(r - b for r, b in zip(run_times, bare_times, strict=True))

    run_queries = median(count_queries(task_run)[0] for _ in range(5))
    bare_queries = median(count_queries(bare)[0] for _ in range(5))
    extra_queries = run_queries - bare_queries
    say(
        f"  overhead: run {ms(median(run_times)):.2f} ms, call_command "
        f"{ms(median(bare_times)):.2f} ms, {run_queries} queries"
    )
    rows = [
        Row(
            "per-run overhead",
            f"no-op run, added time (median of {sizes.overhead_runs})",
            ms(overhead),
            "ms",
            "call_command",
            ms(median(bare_times)),
            median(run_times) / median(bare_times),
            "< 3 ms added",
            ms(overhead) < 3.0,
            {"run_ms": ms(median(run_times))},
        ),
        Row(
            "per-run overhead",
            "no-op run, queries",
            extra_queries,
            "queries",
            "call_command",
            bare_queries,
            None,
            "< 8 added",
            extra_queries < 8,
        ),
    ]
    details = {
        "run_ms": [ms(t) for t in run_times],
        "call_command_ms": [ms(t) for t in bare_times],
        "run_queries": run_queries,
        "call_command_queries": bare_queries,
    }
    return rows, details
