"""Admin: Task changelist and change page, at a small and a large number of tasks."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from benchmarks.common import Row, analyze, command_row, count_queries, median, ms, timed

CATEGORIES = 5
REPORTS_ON_CHANGE_PAGE = 10
LINES_PER_REPORT = 20


def add_tasks(first: int, last: int) -> None:
    """Tasks ``first`` to ``last - 1``, with their cached last-run fields filled."""
    from eztaskmanager.models import Task, TaskCategory

    commands = [command_row("bench_noop"), command_row("bench_lines")]
    categories = list(TaskCategory.objects.order_by("id"))
    now = timezone.now()
    results = ["ok", "warnings", "errors", "failed"]
    Task.objects.bulk_create(
        [
            Task(
                name=f"admin task {i:05d}",
                command=commands[i % 2],
                arguments="" if i % 2 == 0 else "100",
                category=categories[i % len(categories)],
                note=f"note of task {i}" if i % 3 == 0 else "",
                status=Task.STATUS_SCHEDULED if i % 4 == 0 else Task.STATUS_IDLE,
                scheduling=now + timedelta(hours=1) if i % 4 == 0 else None,
                repetition_period=Task.REPETITION_PERIOD_HOUR if i % 4 == 0 else "",
                repetition_rate=2 if i % 4 == 0 else None,
                cached_last_invocation_datetime=now - timedelta(minutes=i),
                cached_last_invocation_result=results[i % len(results)],
                cached_last_invocation_n_errors=i % 3,
                cached_last_invocation_n_warnings=i % 5,
                cached_next_ride=now + timedelta(hours=1) if i % 4 == 0 else None,
            )
            for i in range(first, last)
        ],
        batch_size=1000,
    )
    analyze(Task)


def add_reports(task) -> None:
    """Finished reports with log lines, for the change page's inline and history."""
    from eztaskmanager.models import LaunchReport, Log

    now = timezone.now()
    for r in range(REPORTS_ON_CHANGE_PAGE):
        report = LaunchReport.objects.create(
            task=task,
            invocation_result="ok" if r % 3 else "warnings",
            started_at=now - timedelta(minutes=r),
            finished_at=now - timedelta(minutes=r) + timedelta(seconds=3),
            duration=3.0,
            n_lines=LINES_PER_REPORT,
            n_warnings=0 if r % 3 else 1,
        )
        Log.objects.bulk_create(
            [
                Log(launch_report=report, timestamp=now, level="INFO", message=f"#{i}", lineno=i)
                for i in range(1, LINES_PER_REPORT + 1)
            ]
        )


def measure_page(client, url: str, requests: int) -> dict:
    for _ in range(2):  # warm up: templates, caches
        response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    queries, response = count_queries(client.get, url)
    times = [timed(client.get, url)[0] for _ in range(requests)]
    return {"queries": queries, "ms": ms(median(times)), "bytes": len(response.content)}


def run(sizes, say) -> tuple[list[Row], dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from eztaskmanager.models import Task, TaskCategory

    small, large = sizes.admin_tasks
    user = get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "x")
    client = Client()
    client.force_login(user)
    TaskCategory.objects.bulk_create([TaskCategory(name=f"group {i}") for i in range(CATEGORIES)])

    before = Task.objects.count()
    add_tasks(0, small)
    task = Task.objects.filter(name="admin task 00001").get()
    add_reports(task)
    pages = {
        "changelist": "/admin/eztaskmanager/task/",
        "change page": f"/admin/eztaskmanager/task/{task.pk}/change/",
    }
    figures: dict[str, dict] = {}
    for count, first, last in ((small, 0, small), (large, small, large)):
        if first:
            add_tasks(first, last)
        total = Task.objects.count() - before
        for page, url in pages.items():
            figures[f"{page} {count}"] = measure_page(client, url, sizes.admin_requests)
            say(f"  admin {page}, {total} tasks: {figures[f'{page} {count}']}")

    rows = []
    for page in pages:
        at_small, at_large = figures[f"{page} {small}"], figures[f"{page} {large}"]
        rows.append(
            Row(
                "admin",
                f"Task {page}, {large:,} tasks, queries",
                at_large["queries"],
                "queries",
                f"{small} tasks",
                at_small["queries"],
                None,
                "same as baseline",
                at_large["queries"] == at_small["queries"],
            )
        )
        rows.append(
            Row(
                "admin",
                f"Task {page}, {large:,} tasks, time",
                at_large["ms"],
                "ms",
                f"{small} tasks",
                at_small["ms"],
                at_large["ms"] / at_small["ms"],
                extra={"bytes": at_large["bytes"], "baseline_bytes": at_small["bytes"]},
            )
        )
    return rows, figures
