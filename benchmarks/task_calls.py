"""Cost per run of a no-op ``@task`` function through eztaskmanager's backend, against bare RQ.

    python benchmarks/task_calls.py [--db sqlite|postgres] [--sqlite-wal] [--calls 200]
                                      [--repeats 3] [--json FILE]

Also an area of ``run.py`` (``--only task_calls``). Needs Redis at 127.0.0.1:6379 (or
``--redis``); like ``run.py`` it claims a free Redis database number and creates a database of
its own, dropped at the end. Each side puts ``--calls`` calls on the queue, then one burst
worker (``manage.py rqworker --burst``, a forking worker) drains them:

* bare RQ: ``Queue.enqueue`` of a plain no-op function (``benchmarks.jobs.noop``), drained by
  rq's ``Worker``;
* eztaskmanager: ``noop.enqueue()`` of the bench app's ``@task`` function through
  ``TASKS["default"]`` (``eztaskmanager.tasks.Backend``), drained by ``TaskWorker``: each call
  is a run with its report;
* eztaskmanager, warm horse: the same calls drained by ``WarmTaskWorker``, whose resident work
  horse runs one call after another;
* django-tasks-rq: the same function through ``TASKS["rq"]`` (``django_tasks_rq.RQBackend``),
  drained by rq's ``Worker`` with that package's job class (``--job-class django_tasks_rq.Job``),
  when the package is installed and its calls run with the installed rq; otherwise the output
  says why it was not measured.

The drain is timed from the first call's start to the last call's end as RQ records them
(``started_at``, ``ended_at``). That leaves out the worker's start-up, which differs between the
worker classes (``TaskWorker`` warms itself once), and its exit, which rq 3.0 sometimes holds up
to a minute (its pubsub thread, waiting up to 60 s for a message, is joined without a bound);
per run is that time over the number of calls. The worker process's wall time, both included, is
printed too. Enqueue is the time of the ``enqueue()`` calls themselves, per call, and the SQL
queries of one. In each repeat the sides run back to back, their order rotated from one repeat
to the next; each figure is the median over the repeats.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QUEUE = "default"
BARE, OURS, WARM, DTRQ = "bare RQ", "eztaskmanager", "eztaskmanager, warm horse", "django-tasks-rq"
# One burst worker per drain; ``TaskWorker`` is the worker the docs give for our backend, and
# django-tasks-rq's README has its own job class on the worker.
WORKERS = {
    BARE: ("--worker-class", "rq.Worker"),
    OURS: ("--worker-class", "eztaskmanager.worker.TaskWorker"),
    WARM: ("--worker-class", "eztaskmanager.worker.WarmTaskWorker"),
    DTRQ: ("--worker-class", "rq.Worker", "--job-class", "django_tasks_rq.Job"),
}
ATTEMPTS = 3  # a drain is measured again if its calls did not all succeed
WARM_UP_CALLS = 5


class NotMeasurable(RuntimeError):
    """A side that cannot run here, with why."""


# -- the sides --------------------------------------------------------------------------------


class BareRQ:
    """``Queue.enqueue`` of a plain no-op function."""

    name = BARE

    def __init__(self, queue):
        from benchmarks.jobs import noop

        self.queue = queue
        self.function = noop

    def enqueue(self):
        return self.queue.enqueue(self.function)

    def mark(self):
        return None

    def problem(self, mark, last, n: int) -> str:
        return ""


class TaskBackend:
    """``enqueue()`` of the bench app's no-op ``@task`` function through the backend ``alias``."""

    def __init__(self, name: str, alias: str):
        from benchmarks.benchapp.tasks import noop

        self.name = name
        self.task = noop.using(backend=alias)

    def enqueue(self):
        return self.task.enqueue()

    def mark(self):
        return None

    def problem(self, mark, last, n: int) -> str:
        """'' when the last call of the drain reads back as successful, else what it reads."""
        from eztaskmanager.internals.djangotasks import TaskResultStatus

        status = self.task.get_result(last.id).status
        return "" if status == TaskResultStatus.SUCCESSFUL else f"last call {status}"


class Ours(TaskBackend):
    """Our backend: also every call's report ended ok."""

    def __init__(self, name: str = OURS):
        super().__init__(name, "default")

    def mark(self):
        """The newest report id before the drain."""
        from eztaskmanager.models import LaunchReport

        return LaunchReport.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def problem(self, mark, last, n: int) -> str:
        """'' when the ``n`` calls since ``mark`` ran ok and the last reads back successful."""
        from eztaskmanager.models import LaunchReport

        newest = self.mark()
        # Ids, not rows: the function's task keeps only its newest reports.
        results = set(
            LaunchReport.objects.filter(id__gt=mark).values_list("invocation_result", flat=True)
        )
        if newest - mark != n or results != {"ok"}:
            return f"{newest - mark} runs of {n}, results {sorted(results)}"
        return super().problem(mark, last, n)


def django_tasks_rq_refusal() -> str:
    """'' when django-tasks-rq is there to be tried, else why it cannot be measured."""
    from django.conf import settings

    try:
        installed = version("django-tasks-rq")
    except PackageNotFoundError:
        return "django-tasks-rq is not installed (pip install django-tasks-rq; it needs rq>=2.5)"
    if "rq" not in getattr(settings, "TASKS", {}):
        return f"django-tasks-rq {installed} is installed but TASKS has no 'rq' backend"
    rq_version = tuple(int(part) for part in version("rq").split(".")[:2] if part.isdigit())
    if rq_version < (2, 5):
        return f"django-tasks-rq {installed} needs rq>=2.5; rq {version('rq')} is installed"
    try:
        import django_tasks_rq  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: not measurable here
        return f"django_tasks_rq {installed} cannot be imported: {type(exc).__name__}: {exc}"
    return ""


# -- drains -----------------------------------------------------------------------------------


def drain(side: str) -> float:
    """Wall time of one burst worker of ``side`` emptying the queue (process start to exit)."""
    from benchmarks.common import run_manage

    seconds, _ = run_manage("rqworker", *WORKERS[side], "--burst", QUEUE)
    return seconds


def failure_of(queue) -> str:
    """The last line of a failed job's traceback, if a job failed."""
    from rq.job import Job

    ids = queue.failed_job_registry.get_job_ids()
    for job in Job.fetch_many(ids[:1], connection=queue.connection):
        text = (job.latest_result().exc_string if job and job.latest_result() else "") or ""
        lines = text.strip().splitlines()
        return lines[-1] if lines else "failed without a traceback"
    return ""


def drained_once(side, queue, n: int) -> tuple[str, dict]:
    """Enqueue ``n`` calls of ``side``, drain them; ('' or what went wrong, the figures)."""
    from benchmarks.common import clear_queue, timed
    from benchmarks.end_to_end import drained_all
    from benchmarks.phases import jobs_of_drain, phases

    clear_queue()
    mark = side.mark()

    def enqueue_all():
        last = None
        for _ in range(n):
            last = side.enqueue()
        return last

    enqueue_seconds, last = timed(enqueue_all)
    process_seconds = drain(side.name)
    problem = drained_all(queue, n)
    if problem:
        failure = failure_of(queue)
        return f"{problem}{': ' + failure if failure else ''}", {}
    problem = side.problem(mark, last, n)
    if problem:
        return problem, {}
    jobs = jobs_of_drain(queue)
    span = (max(j.ended_at for j in jobs) - jobs[0].started_at).total_seconds()
    return "", {
        "enqueue_seconds": enqueue_seconds,
        "process_seconds": process_seconds,
        "drain_seconds": span,
        # Means over the drain's jobs: in the job itself, between jobs (and, for our runs, the
        # phases of the reports a task keeps).
        "phases_ms": phases(queue, with_reports=isinstance(side, Ours)),
    }


def measure(side, queue, n: int, say) -> dict:
    problem = ""
    for _attempt in range(ATTEMPTS):
        problem, figures = drained_once(side, queue, n)
        if not problem:
            return figures
        say(f"  {side.name}: drain not counted ({problem}); measuring it again")
    raise RuntimeError(f"{side.name}: drain failed {ATTEMPTS} times: {problem}")


def warm_up(side, queue) -> None:
    """A few calls drained once: bytecode cache, connections, the function's task row.
    ``NotMeasurable`` when they do not run."""
    problem, _figures = drained_once(side, queue, WARM_UP_CALLS)
    if problem:
        raise NotMeasurable(f"its calls do not run here: {problem}")


def compare(n: int, repeats: int, say) -> dict:
    """Drain ``n`` calls of each side ``repeats`` times; the figures of each side, by name."""
    import django_rq

    from benchmarks.common import clear_queue, count_queries, median

    queue = django_rq.get_queue(QUEUE)
    measured = []
    for side in (BareRQ(queue), Ours(), Ours(WARM)):
        try:
            warm_up(side, queue)
        except NotMeasurable as exc:
            raise RuntimeError(f"{side.name}: {exc}") from exc
        measured.append(side)
    skipped = {}
    refusal = django_tasks_rq_refusal()
    if refusal:
        skipped[DTRQ] = refusal
    else:
        try:
            side = TaskBackend(DTRQ, "rq")
            warm_up(side, queue)
        except Exception as exc:  # noqa: BLE001 - whatever stops it, it is not measured
            reason = str(exc) if isinstance(exc, NotMeasurable) else f"{type(exc).__name__}: {exc}"
            skipped[DTRQ] = f"django-tasks-rq {version('django-tasks-rq')}: {reason}"
        else:
            measured.append(side)
    if DTRQ in skipped:
        say(f"  {DTRQ} not measured: {skipped[DTRQ]}")
    # Kept apart from the timed calls: recording queries costs time of its own.
    queries = {
        side.name: median(count_queries(side.enqueue)[0] for _ in range(5)) for side in measured
    }
    clear_queue()

    runs = {side.name: [] for side in measured}
    for repeat in range(repeats):
        shift = repeat % len(measured)
        for side in measured[shift:] + measured[:shift]:
            runs[side.name].append(measure(side, queue, n, say))
        say(
            f"  drain {repeat + 1}: "
            + ", ".join(f"{name} {r[-1]['drain_seconds']:.2f} s" for name, r in runs.items())
        )
    django_rq.get_queue(QUEUE).empty()
    return {"calls": n, "repeats": repeats, "runs": runs, "queries": queries, "skipped": skipped}


def summary(result: dict) -> dict:
    """Per side: medians per call in ms, and the added time and ratios against bare RQ."""
    from benchmarks.common import median, ms

    n = result["calls"]
    figures = {}
    for name, runs in result["runs"].items():
        figures[name] = {
            "per_run_ms": ms(median(r["drain_seconds"] for r in runs)) / n,
            "drain_seconds": median(r["drain_seconds"] for r in runs),
            "process_seconds": median(r["process_seconds"] for r in runs),
            "enqueue_ms": ms(median(r["enqueue_seconds"] for r in runs)) / n,
            "enqueue_queries": result["queries"][name],
            "job_ms": median(r["phases_ms"]["job"] for r in runs),
            "between_ms": median(r["phases_ms"]["between jobs"] for r in runs),
        }
    bare = figures[BARE]
    for side in figures.values():
        side["added_ms"] = side["per_run_ms"] - bare["per_run_ms"]
        side["ratio"] = side["per_run_ms"] / bare["per_run_ms"]
        side["enqueue_ratio"] = side["enqueue_ms"] / bare["enqueue_ms"]
    return figures


# -- as an area of run.py ---------------------------------------------------------------------


def run(sizes, say):
    from benchmarks.common import Row

    result = compare(sizes.drain_jobs, sizes.drain_repeats, say)
    figures = summary(result)
    bare = figures[BARE]
    n = result["calls"]
    rows = []
    for name in (OURS, WARM, DTRQ):
        if name not in figures:
            continue
        side = figures[name]
        rows += [
            Row(
                "django tasks",
                f"no-op @task call, {name}, per run (drain of {n})",
                side["per_run_ms"],
                "ms",
                "bare RQ job",
                bare["per_run_ms"],
                side["ratio"],
            ),
            Row(
                "django tasks",
                f"time added per call, {name}",
                side["added_ms"],
                "ms",
                "bare RQ job",
                bare["per_run_ms"],
            ),
            Row(
                "django tasks",
                f"enqueue() per call, {name}",
                side["enqueue_ms"],
                "ms",
                "Queue.enqueue",
                bare["enqueue_ms"],
                side["enqueue_ratio"],
            ),
            Row(
                "django tasks",
                f"enqueue() queries, {name}",
                side["enqueue_queries"],
                "queries",
                "Queue.enqueue",
                bare["enqueue_queries"],
            ),
        ]
    return rows, {**result, "summary": figures}


# -- as a script ------------------------------------------------------------------------------


def side_by_side(figures: dict, n: int) -> str:
    """The figures as a reStructuredText simple table, one column per side."""
    names = [BARE, OURS, WARM, DTRQ]

    def cell(name, key, template):
        if name not in figures:
            return "not measured"
        if name == BARE and key in ("added_ms", "ratio", "enqueue_ratio"):
            return "(baseline)"
        return template.format(figures[name][key])

    lines = [
        ("per run (drain / calls)", "per_run_ms", "{:.2f} ms"),
        ("of which in the job (work horse)", "job_ms", "{:.2f} ms"),
        ("of which between jobs", "between_ms", "{:.2f} ms"),
        ("added per run vs bare RQ", "added_ms", "{:+.2f} ms"),
        ("ratio to bare RQ", "ratio", "{:.2f}x"),
        (f"drain of {n} calls", "drain_seconds", "{:.2f} s"),
        ("worker process, start to exit", "process_seconds", "{:.2f} s"),
        ("enqueue() per call", "enqueue_ms", "{:.3f} ms"),
        ("enqueue() ratio to bare RQ", "enqueue_ratio", "{:.2f}x"),
        ("SQL queries per enqueue()", "enqueue_queries", "{:g}"),
    ]
    body = [
        [label, *(cell(name, key, template) for name in names)] for label, key, template in lines
    ]
    from benchmarks.common import rst_table

    return rst_table(["figure", *names], body)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--sqlite-wal", action="store_true", help="SQLite in WAL mode with synchronous=NORMAL"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server URL")
    parser.add_argument("--calls", type=int, default=200, help="no-op calls per drain (200)")
    parser.add_argument("--repeats", type=int, default=3, help="drains of each side (3)")
    parser.add_argument("--json", default="", help="also write the raw figures to this file")
    args = parser.parse_args(argv)
    if args.calls < 2 or args.repeats < 1:
        parser.error("--calls must be at least 2 and --repeats at least 1")

    return measure_all(args)


def measure_all(args) -> int:
    from benchmarks.common import scratch_site

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with scratch_site(args, sqlite_wal=args.sqlite_wal):
        from benchmarks.run import machine

        info = machine()
        say(f"== {args.calls} no-op calls a drain, {args.repeats} drains of each side")
        result = compare(args.calls, args.repeats, say)
    figures = summary(result)

    try:
        dtrq_version = f"django-tasks-rq {version('django-tasks-rq')}"
    except PackageNotFoundError:
        dtrq_version = "no django-tasks-rq"
    print(
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB; Python {info['python']}, "
        f"Django {info['django']}, {info['database']}, Redis {info['redis']}, rq {info['rq']}, "
        f"django-rq {info['django_rq']}, {dtrq_version}"
    )
    print(f"{args.calls} calls a drain, median of {args.repeats} drains a side, sides alternated")
    print(side_by_side(figures, args.calls))
    for name, reason in result["skipped"].items():
        print(f"\n{name} not measured: {reason}")
    if args.json:
        details = {"machine": info, **result, "summary": figures}
        Path(args.json).write_text(json.dumps(details, indent=2, default=str) + "\n")
        say(f"Written {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
