"""End to end: launches drained by ``rqworker --burst``, against bare RQ no-op jobs; and the
worker modes side by side (bare RQ ``Worker`` and ``SimpleWorker``, ``TaskWorker``,
``WarmTaskWorker``), each draining the same number of no-op jobs or runs."""

from __future__ import annotations

from django.db import connection

from benchmarks.common import Row, clear_queue, make_task, median, ms, run_manage, timed
from benchmarks.phases import PHASES, phases

ATTEMPTS = 3  # a drain is measured again if its jobs did not all finish
# The drain's target, by database: a run's database work costs more on a server database.
DRAIN_LIMITS = {"sqlite": 1.3, "postgresql": 1.5}


# The worker modes compared: (label, worker class, whether it drains launches or bare jobs).
WORKER_MODES = [
    ("bare RQ Worker", "rq.Worker", False),
    ("bare RQ SimpleWorker", "rq.SimpleWorker", False),
    ("TaskWorker", "eztaskmanager.worker.TaskWorker", True),
    ("WarmTaskWorker", "eztaskmanager.worker.WarmTaskWorker", True),
    # The same runs inside the worker itself: no horse at all, so no isolation (the horse's
    # own cost is WarmTaskWorker's time over this one's).
    ("runs in rq's SimpleWorker", "rq.SimpleWorker", True),
]
# WarmTaskWorker's targets, against other modes of the same run: (baseline, limit, whether
# the limit itself passes).
WARM_TARGETS = [
    ("bare RQ Worker", 1.0, False),  # faster than it
    ("bare RQ SimpleWorker", 1.3, True),
    ("runs in rq's SimpleWorker", 1.3, True),
]


def drain(worker_class: str | None = None) -> float:
    """Wall time of a burst worker emptying the queue (process start to exit)."""
    chosen = ("--worker-class", worker_class) if worker_class else ()
    seconds, _ = run_manage("rqworker", "default", "--burst", *chosen)
    return seconds


def drained_all(queue, n: int) -> str:
    """'' when the ``n`` jobs of the last drain all finished, else what went wrong."""
    failed = queue.failed_job_registry.count
    finished = queue.finished_job_registry.count
    if queue.count or failed or finished != n:
        return f"{queue.count} queued, {failed} failed, {finished} of {n} finished"
    return ""


def measure(enqueue, check, queue, n: int, say, worker_class=None) -> tuple[float, float]:
    """Enqueue ``n`` jobs, drain them; return (enqueue seconds, drain seconds)."""
    problem = ""
    for _attempt in range(ATTEMPTS):
        clear_queue()
        before = check(None)
        enqueue_seconds = timed(enqueue)[0]
        drain_seconds = drain(worker_class)
        problem = drained_all(queue, n) or check(before)
        if not problem:
            return enqueue_seconds, drain_seconds
        say(f"  drain not counted ({problem}); measuring it again")
    raise RuntimeError(f"drain failed {ATTEMPTS} times: {problem}")


def run(sizes, say) -> tuple[list[Row], dict]:
    import django_rq

    from benchmarks.jobs import noop
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services.queues import RQTaskQueueService

    n = sizes.drain_jobs
    queue = django_rq.get_queue("default")
    service = RQTaskQueueService()
    # Ten launches per task: a task keeps its ten newest reports, so every run of a drain
    # keeps its report (its phases are measured from it) and, from the second drain on, each
    # run prunes one report of the drain before, as a run does in the steady state.
    tasks = [make_task("bench_noop", name=f"end-to-end no-op {i}") for i in range(-(-n // 10))]
    task = tasks[0]

    def launches():
        for i in range(n):
            service.launch(tasks[i % len(tasks)])

    def bare_jobs():
        for _ in range(n):
            queue.enqueue(noop)

    def no_check(before):
        return None if before is None else ""

    def runs_ok(before):
        """Before the drain: the newest report id; after: '' if n runs ended ok."""
        newest = LaunchReport.objects.order_by("-id").values_list("id", flat=True).first() or 0
        if before is None:
            return newest
        # Ids, not rows: a task keeps only its newest reports.
        results = set(
            LaunchReport.objects.filter(id__gt=before).values_list("invocation_result", flat=True)
        )
        if newest - before != n or results != {"ok"}:
            return f"{newest - before} runs of {n}, results {sorted(results)}"
        return ""

    # Warm up: bytecode cache, page cache, Redis and database connections.
    clear_queue()
    for _ in range(5):
        queue.enqueue(noop)
        service.launch(task)
    drain()

    task_times, bare_times, launch_times, enqueue_times = [], [], [], []
    task_phases, bare_phases = [], []
    for repeat in range(sizes.drain_repeats):
        enqueue_s, drain_s = measure(bare_jobs, no_check, queue, n, say)
        enqueue_times.append(enqueue_s)
        bare_times.append(drain_s)
        bare_phases.append(phases(queue, with_reports=False))
        launch_s, drain_s = measure(launches, runs_ok, queue, n, say)
        launch_times.append(launch_s)
        task_times.append(drain_s)
        task_phases.append(phases(queue, with_reports=True))
        say(f"  drain {repeat + 1}: tasks {task_times[-1]:.2f} s, bare RQ {bare_times[-1]:.2f} s")
        say(f"  phases (ms): tasks {task_phases[-1]}, bare RQ {bare_phases[-1]}")
    mode_times: dict[str, list[float]] = {label: [] for label, _, _ in WORKER_MODES}
    warm_phases = []  # the phases of WarmTaskWorker's runs, beside TaskWorker's above
    for repeat in range(sizes.drain_repeats):
        for label, worker_class, with_runs in WORKER_MODES:
            enqueue, check = (launches, runs_ok) if with_runs else (bare_jobs, no_check)
            mode_times[label].append(measure(enqueue, check, queue, n, say, worker_class)[1])
            if label == "WarmTaskWorker":
                warm_phases.append(phases(queue, with_reports=True))
        said = ", ".join(f"{label} {times[-1]:.2f} s" for label, times in mode_times.items())
        say(f"  worker modes, drain {repeat + 1}: {said}")
    clear_queue()

    task_s, bare_s = median(task_times), median(bare_times)
    limit = DRAIN_LIMITS.get(connection.vendor, 1.5)
    rows = [
        Row(
            "end-to-end",
            f"drain of {n} launches, rqworker --burst",
            task_s,
            "s",
            f"{n} bare RQ jobs",
            bare_s,
            task_s / bare_s,
            f"<= {limit:.2f}x",
            task_s / bare_s <= limit,
        ),
        Row(
            "end-to-end",
            "time added per launch",
            ms((task_s - bare_s) / n),
            "ms",
            "bare RQ job",
            ms(bare_s / n),
        ),
        Row(
            "end-to-end",
            f"enqueue {n} launches",
            median(launch_times),
            "s",
            f"{n} bare enqueues",
            median(enqueue_times),
            median(launch_times) / median(enqueue_times),
        ),
    ]
    rows.extend(phase_rows(task_phases, bare_phases))
    rows.extend(phase_rows(warm_phases, task_phases, "WarmTaskWorker", "TaskWorker"))
    rows.extend(mode_rows(mode_times, n))
    details = {
        "worker_mode_drain_seconds": mode_times,
        "jobs": n,
        "task_phases_ms": task_phases,
        "warm_phases_ms": warm_phases,
        "bare_phases_ms": bare_phases,
        "task_drain_seconds": task_times,
        "bare_drain_seconds": bare_times,
        "launch_seconds": launch_times,
        "bare_enqueue_seconds": enqueue_times,
    }
    return rows, details


def phase_rows(
    task_phases: list[dict], bare_phases: list[dict], label: str = "", baseline: str = "bare RQ job"
) -> list[Row]:
    """One row per phase of a drained job: the median over the drains of each drain's mean;
    ``label`` names the worker of ``task_phases`` when it is not the default one."""
    rows = []
    for name in PHASES:
        ours = [p[name] for p in task_phases if name in p]
        if not ours:
            continue
        bare = [p[name] for p in bare_phases if name in p]
        bare_ms = median(bare) if bare else None
        rows.append(
            Row(
                "end-to-end",
                f"phase{f' ({label})' if label else ''}: {name}",
                median(ours),
                "ms",
                baseline if bare else "",
                bare_ms,
                median(ours) / bare_ms if bare_ms else None,
            )
        )
    return rows


def mode_rows(mode_times: dict[str, list[float]], n: int) -> list[Row]:
    """Milliseconds per job or run of each worker mode's drain (median over the drains), beside
    bare RQ's forking Worker draining as many no-op jobs; then WarmTaskWorker against each of
    its targets' baselines."""
    per_job = {label: ms(median(times) / n) for label, times in mode_times.items()}
    base_label = WORKER_MODES[0][0]
    rows = []
    for label, _, with_runs in WORKER_MODES:
        what = "no-op runs" if with_runs else "no-op jobs"
        rows.append(
            Row(
                "end-to-end",
                f"worker mode: {label}, drain of {n} {what}, per job",
                per_job[label],
                "ms",
                f"{base_label}, per job",
                per_job[base_label],
                per_job[label] / per_job[base_label],
            )
        )
    warm = per_job["WarmTaskWorker"]
    for label, limit, inclusive in WARM_TARGETS:
        ratio = warm / per_job[label]
        target = f"{'<=' if inclusive else '<'} {limit:.2f}x"
        rows.append(
            Row(
                "end-to-end",
                f"WarmTaskWorker drain, per run, against {label}",
                warm,
                "ms",
                f"{label}, per job",
                per_job[label],
                ratio,
                target,
                ratio <= limit if inclusive else ratio < limit,
            )
        )
    return rows
