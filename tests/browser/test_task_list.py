"""In a real browser at 1280 px: 30 tasks with long names and arguments fit the task list."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.models import LaunchReport, Task
from tests.admin.test_admin import add_report
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

N_TASKS = 30

NAMES = [
    "Import the monthly price lists from every regional supplier's SFTP server",
    "Rebuild the search index of the public catalogue, product pages and archived offers",
    "Send the weekly digest of open orders to the purchasing and logistics teams",
    "Recompute the customers' loyalty points and expire the points older than two years",
    "Export the accounting ledger to the external auditors' shared folder (quarterly close)",
]
ARGUMENTS = (
    "--source sftp://prices.example.com/exports/monthly/{i}, --since 2026-01-01, "
    "--format csv, --delimiter ';', --encoding latin-1, --notify operations@example.com"
)

# Widths the page lays out, and whether anything sticks out to the right.
LAYOUT = """() => {
    const root = document.documentElement;
    const results = document.querySelector("#changelist .results");
    const table = document.getElementById("result_list");
    const columns = [...table.querySelectorAll("thead th")].map(th => th.className);
    return {
        pageScroll: root.scrollWidth, pageWidth: root.clientWidth,
        resultsScroll: results.scrollWidth, resultsWidth: results.clientWidth,
        tableRight: table.getBoundingClientRect().right,
        resultsRight: results.getBoundingClientRect().right,
        rows: table.querySelectorAll("tbody tr").length,
        columns: columns,
    };
}"""


def make_tasks(make_task) -> list[Task]:
    """30 tasks with long names and arguments, in every state the list shows."""
    now = timezone.now()
    tasks = []
    for i in range(N_TASKS):
        kind = i % 5
        fields = {}
        if kind in (1, 2):
            fields = {
                "scheduling": now + timedelta(hours=1 + i),
                "repetition_period": ("day", "week")[kind - 1],
                "repetition_rate": 1 + i % 3,
            }
        elif kind == 3:
            fields = {"cron_expression": "15 2 * * 1-5", "scheduling": now}
        task = make_task(
            "eztm_echo",
            ARGUMENTS.format(i=i),
            name=f"{NAMES[i % len(NAMES)]} #{i}",
            note=f"Runbook: https://wiki.example.com/operations/tasks/{i}",
            **fields,
        )
        result = ("ok", "warnings", "ok", "failed", "errors")[kind]
        add_report(task, result, [("INFO", "done")])
        status = {1: Task.STATUS_SCHEDULED, 2: Task.STATUS_SCHEDULED, 3: Task.STATUS_SCHEDULED}
        update = {"status": status.get(kind, Task.STATUS_IDLE)}
        if kind in (1, 2, 3):
            update["cached_next_ride"] = now + timedelta(minutes=7 * (i + 1))
        if i % 10 == 0:  # a run going on, half way
            LaunchReport.objects.create(
                task=task,
                started_at=now - timedelta(minutes=2),
                progress_done=40,
                progress_total=80,
            )
            update["status"] = Task.STATUS_STARTED
        elif i % 10 == 4:
            update["status"] = Task.STATUS_SPOOLED
        elif i == 6:  # stopped: its schedule kept, paused
            update.update(status=Task.STATUS_IDLE, schedule_enabled=False, cached_next_ride=None)
        Task.objects.filter(pk=task.pk).update(**update)
        tasks.append(task)
    return tasks


def test_thirty_long_tasks_fit_1280_pixels(live_server, browser_page, make_task, tmp_path):
    # EZTM_SCREENSHOTS names a folder to keep the screenshots in (the docs take theirs there).
    shots = Path(os.environ.get("EZTM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    tasks = make_tasks(make_task)
    page = browser_page
    assert page.viewport_size["width"] == 1280

    log_in(page, live_server.url)
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_changelist')}")
    page.wait_for_selector("#result_list")

    layout = page.evaluate(LAYOUT)
    assert layout["rows"] == N_TASKS
    assert layout["pageScroll"] <= layout["pageWidth"], layout  # no horizontal scroll bar
    assert layout["resultsScroll"] <= layout["resultsWidth"], layout  # nor inside the list
    assert layout["tableRight"] <= layout["resultsRight"] + 1, layout
    for column in ("task", "state", "last_run", "next_run"):
        assert any(f"column-{column}" in c for c in layout["columns"]), layout["columns"]

    # The name takes at most two lines, the invocation one: both are cut, the full text is on hover.
    cut = "n => n.scrollHeight > n.clientHeight || n.scrollWidth > n.clientWidth"
    assert page.locator(".eztm-task-name").first.evaluate(cut)
    assert page.locator(".eztm-invocation").first.evaluate(cut)
    titles = page.eval_on_selector_all(
        ".eztm-task-name, .eztm-invocation", "nodes => nodes.map(n => n.title)"
    )
    full = {f"{t.name}\n{t.note}" for t in tasks} | {f"eztm_echo {t.arguments}" for t in tasks}
    assert set(titles) == full  # the whole text on hover
    lines = page.eval_on_selector_all(
        ".eztm-task-name, .eztm-invocation",
        """nodes => nodes.map(n => [n.className,
            Math.round(n.clientHeight / parseFloat(getComputedStyle(n).lineHeight))])""",
    )
    assert max(n for c, n in lines if c == "eztm-task-name") == 2, lines  # cut after 2 lines
    assert {n for c, n in lines if c == "eztm-invocation"} == {1}, lines
    states = page.eval_on_selector_all(
        ".eztm-state", "nodes => nodes.map(n => n.className.split('eztm-state-')[1])"
    )
    assert set(states) == {"running", "queued", "scheduled", "paused", "idle", "error"}
    page.screenshot(path=str(shots / "task_list.png"))
    assert (shots / "task_list.png").stat().st_size > 10_000
