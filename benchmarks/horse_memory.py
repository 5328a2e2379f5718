"""Memory of ``WarmTaskWorker``'s resident work horse over many runs.

One burst worker with one resident horse (no retirement by run count or memory) drains runs of
``bench_churn``, a command that allocates about 8 MB of large and small objects and frees them.
The horse's resident memory (``/proc/<pid>/statm``) is sampled as the runs finish. The baseline
is its memory once the first tenth of the runs is done (imports, caches and the allocator's
pools are warm by then); the figure is its memory at the end: flat means within 10 %.
"""

from __future__ import annotations

import subprocess
import time

from benchmarks.common import ROOT, Row, clear_queue, django_admin, make_task, subprocess_env
from eztaskmanager.cli.devserver import descendants
from eztaskmanager.worker.horse import resident_memory_mb

SAMPLE_EVERY = 0.2  # seconds


def run(sizes, say) -> tuple[list[Row], dict]:
    import django_rq

    from eztaskmanager.services.queues import RQTaskQueueService

    n = sizes.horse_runs
    queue = django_rq.get_queue("default")
    service = RQTaskQueueService()
    tasks = [make_task("bench_churn", name=f"horse memory {i}") for i in range(10)]
    clear_queue()
    for i in range(n):
        service.launch(tasks[i % len(tasks)])
    say(f"  {n} launches queued")

    env = subprocess_env()
    env["EZTM_BENCH_HORSE_MAX_RUNS"] = "0"  # never retired by count: one horse for all runs
    env["EZTM_BENCH_HORSE_MAX_MEMORY_MB"] = "0"
    worker_class = "eztaskmanager.worker.WarmTaskWorker"
    args = django_admin("rqworker", "default", "--burst", "--worker-class", worker_class)
    worker = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    samples: list[tuple[int, float, int]] = []  # (runs finished, RSS MiB, horse pid)
    started = time.monotonic()
    try:
        while worker.poll() is None:
            time.sleep(SAMPLE_EVERY)
            for pid in descendants(worker.pid):
                memory = resident_memory_mb(pid)
                if memory is not None:
                    samples.append((queue.finished_job_registry.count, memory, pid))
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    seconds = time.monotonic() - started
    finished = queue.finished_job_registry.count
    horses = {pid for _, _, pid in samples}
    if finished != n or queue.failed_job_registry.count:
        raise RuntimeError(
            f"{finished} of {n} runs finished, {queue.failed_job_registry.count} failed"
        )
    warm = [memory for done, memory, _ in samples if done >= n // 10]
    if len(warm) < 2:
        raise RuntimeError("too few memory samples: the drain was too short")
    baseline, last, peak = warm[0], warm[-1], max(warm)
    say(
        f"  {n} runs in {seconds:.1f} s by {len(horses)} horse(s); RSS after {n // 10}: "
        f"{baseline:.1f} MiB, at the end: {last:.1f} MiB, peak {peak:.1f} MiB"
    )
    ratio = last / baseline
    clear_queue()
    rows = [
        Row(
            "horse memory",
            f"RSS of the resident horse after {n:,} runs of an 8 MB churn",
            last,
            "MiB",
            f"after {n // 10:,} runs",
            baseline,
            ratio,
            "0.90x-1.10x (flat)",
            0.9 <= ratio <= 1.1 and len(horses) == 1,
            {"peak_mib": peak, "horses": len(horses), "seconds": seconds},
        )
    ]
    details = {
        "runs": n,
        "horses": len(horses),
        "seconds": seconds,
        "samples": [
            (done, round(memory, 2)) for done, memory, _ in samples[:: max(1, len(samples) // 200)]
        ],
    }
    return rows, details
