"""Memory: peak RSS of a process running a long-logging task, against a short one."""

from __future__ import annotations

import json

from benchmarks.common import Row, delete_reports, make_task, median, run_manage


def peak_rss(task) -> dict:
    """Run ``task`` in a fresh process (``bench_peak_rss``); its peak RSS and the report."""
    seconds, done = run_manage("bench_peak_rss", str(task.pk))
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["seconds"] = seconds
    return figures


def run(sizes, say) -> tuple[list[Row], dict]:
    small, large = sizes.memory_lines
    figures = {}
    for n, repeats in ((small, 3), (large, 1)):
        task = make_task("bench_lines", f"{n}, --verbosity 2", name=f"memory {n}")
        runs = []
        for _ in range(repeats):
            result = peak_rss(task)
            if result["result"] != "ok" or result["n_lines"] != n:
                raise RuntimeError(f"memory run of {n} lines ended {result}")
            runs.append(result)
            delete_reports(task)
        figures[n] = {
            "peak_rss_mib": median(r["peak_rss_kib"] for r in runs) / 1024,
            "rss_before_run_mib": median(r["rss_before_kib"] for r in runs) / 1024,
            "seconds": median(r["seconds"] for r in runs),
        }
        say(f"  memory, {n:,} lines: {figures[n]}")

    ratio = figures[large]["peak_rss_mib"] / figures[small]["peak_rss_mib"]
    rows = [
        Row(
            "memory",
            f"peak RSS, {large:,}-line run",
            figures[large]["peak_rss_mib"],
            "MiB",
            f"{small:,} lines",
            figures[small]["peak_rss_mib"],
            ratio,
            "<= 1.10x (flat)",
            ratio <= 1.10,
            {"seconds": figures[large]["seconds"], "baseline_seconds": figures[small]["seconds"]},
        )
    ]
    return rows, {str(n): value for n, value in figures.items()}
