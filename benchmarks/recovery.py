"""Recovery from a wiped Redis with many scheduled tasks.

``taskmanager sync`` rebuilding an emptied Redis (process start included), and a running
``taskmanager scheduler`` noticing the wipe by itself. The wipe is a FLUSHDB of the claimed
Redis database (the server is shared: never FLUSHALL here).
"""

from __future__ import annotations

import time

from benchmarks.common import Processes, Row, command_row, run_manage, wait_for

WAIT_LIMIT = 120.0  # a scheduler without wipe detection waits for its next sync (60 s)


def scheduled_tasks(n: int) -> None:
    """``n`` tasks with a cron schedule and a job id, as if scheduled (their jobs: a sync)."""
    from eztaskmanager.backends import job_id_for
    from eztaskmanager.models import Task

    command = command_row("bench_noop")
    Task.objects.bulk_create(
        [
            Task(
                name=f"recovery {i}",
                command=command,
                cron_expression="*/5 * * * *",
                status=Task.STATUS_SCHEDULED,
                scheduled_job_id=job_id_for(i + 1_000_000),
            )
            for i in range(n)
        ],
        batch_size=1000,
    )


def run(sizes, say) -> tuple[list[Row], dict]:
    import django_rq

    from eztaskmanager.models import Task

    n = sizes.recovery_tasks
    connection = django_rq.get_connection("default")
    connection.flushdb()
    scheduled_tasks(n)
    filled, _ = run_manage("taskmanager", "sync")  # writes every job: the first fill
    unchanged, _ = run_manage("taskmanager", "sync")  # nothing to do: start + reads
    connection.flushdb()
    rebuilt, done = run_manage("taskmanager", "sync")
    restored = connection.zcard("rq:scheduler:scheduled_jobs")
    say(f"  sync: fill {filled:.2f} s, unchanged {unchanged:.2f} s, rebuild {rebuilt:.2f} s")
    say(f"  {done.stdout.strip()[:200]}")

    with Processes() as processes:
        processes.start("taskmanager", "scheduler", "--interval", "0.2")
        time.sleep(3.0)  # started, synced once
        connection.flushdb()
        wiped = time.monotonic()
        try:
            wait_for(
                lambda: connection.zcard("rq:scheduler:scheduled_jobs") >= n,
                WAIT_LIMIT,
                interval=0.1,
                what="the schedule rebuilt",
            )
            back = time.monotonic() - wiped
        except RuntimeError:
            back = WAIT_LIMIT
    say(f"  scheduler: schedule back {back:.2f} s after the wipe")
    Task.objects.filter(name__startswith="recovery ").delete()
    connection.flushdb()
    rows = [
        Row(
            "recovery",
            f"taskmanager sync rebuilding {n:,} scheduled tasks (process included)",
            rebuilt,
            "s",
            baseline="same sync, nothing to rebuild",
            baseline_value=unchanged,
            ratio=rebuilt / unchanged if unchanged else None,
            target="< 5 s",
            passed=rebuilt < 5 and restored == n,
        ),
        Row(
            "recovery",
            f"running scheduler: {n:,} scheduled tasks back after a wipe",
            back,
            "s",
            target="< 5 s",
            passed=back < 5,
        ),
    ]
    return rows, {"fill": filled, "unchanged": unchanged, "restored": restored}
