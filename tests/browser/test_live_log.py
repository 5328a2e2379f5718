"""In a real browser: launch a task from the admin and watch its log arrive in the live viewer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from eztaskmanager.models import LaunchReport
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

N_LINES = 80

PAGE_STATE = """() => {
    const root = document.getElementById("eztm-live");
    const bar = root.querySelector("progress[data-field=progress]");
    const lines = root.querySelectorAll("[data-role=lines] .eztm-line");
    return {
        lines: lines.length,
        last: lines.length ? lines[lines.length - 1].textContent : "",
        result: root.querySelector("[data-field=result]").textContent.trim(),
        progressShown: !bar.hidden,
        progress: bar.value,
        progressMax: bar.max,
    };
}"""


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_live_viewer_follows_a_run(live_server, browser_page, rq_worker, make_task, tmp_path):
    # EZTM_SCREENSHOTS names a folder to keep the screenshots in (the docs take theirs there).
    shots = Path(os.environ.get("EZTM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    task = make_task(
        "eztm_lines",
        f"{N_LINES}, --pause 0.1, --verbosity 2",
        name="Demo lines",
        note="Logs a line every tenth of a second, with progress.",
    )
    page = browser_page

    log_in(page, live_server.url)

    # Launch with the "Run now" button of the task's change page.
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_change', args=[task.pk])}")
    page.click("form.eztm-tool button:has-text('Run now')")
    page.wait_for_selector(".messagelist")
    assert "Queued for a worker: “Demo lines”." in page.inner_text(".messagelist")

    worker = rq_worker()
    # The launch has its (queued) report at once; the worker's claim starts it.
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task, started_at__isnull=False).first(),
        30,
        "the worker to start the run",
    )
    # While it runs, the task list says so and its last run leads to the live log.
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_changelist')}")
    row = page.locator("#result_list tbody tr", has_text="Demo lines")
    assert row.locator(".eztm-state").inner_text() == "running"
    live_url = reverse("eztaskmanager:live_log_viewer", args=[report.pk])
    row.locator(f"td.field-last_run a[href='{live_url}']").click()
    page.wait_for_selector("#eztm-live")

    samples = []

    def sample():
        state = page.evaluate(PAGE_STATE)
        samples.append(state)
        return state

    # Lines arrive while the run goes on; then pause: the page stops taking new lines.
    wait_for(lambda: sample()["lines"] >= 10, 30, "the first lines in the viewer")
    page.click("[data-role=follow]")
    assert page.inner_text("[data-role=follow]") == "Follow"
    paused_at = page.evaluate(PAGE_STATE)["lines"]
    time.sleep(2)
    report.refresh_from_db()
    assert report.n_lines > paused_at + 5  # the run went on meanwhile...
    assert page.evaluate(PAGE_STATE)["lines"] == paused_at  # ...but the page held still
    page.click("[data-role=follow]")
    assert page.inner_text("[data-role=follow]") == "Pause"

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sample()["result"] != "ok":
        time.sleep(0.2)
    page.screenshot(path=str(shots / "live_log.png"), full_page=True)

    final = samples[-1]
    assert final["result"] == "ok", samples[-3:]
    assert final["lines"] == N_LINES
    assert final["last"].endswith(f"line {N_LINES} of {N_LINES}")
    assert final["progressShown"] and final["progress"] == final["progressMax"] == N_LINES

    running = [s for s in samples if s["result"] == "running"]
    partial = sorted({s["lines"] for s in running if 0 < s["lines"] < N_LINES})
    assert len(partial) >= 2, f"lines did not arrive while the run went on: {partial}"
    progress = sorted({s["progress"] for s in running if s["progressShown"]})
    assert len([p for p in progress if 0 < p < N_LINES]) >= 2, f"progress did not move: {progress}"

    # Search, then the level filter, on the finished log.
    page.fill("[data-role=search] input[name=q]", "line 7")
    page.click("[data-role=search] button")
    wait_for(lambda: page.evaluate(PAGE_STATE)["lines"] == 11, 10, "the search results")
    messages = page.eval_on_selector_all(
        "[data-role=lines] .eztm-message", "nodes => nodes.map(n => n.textContent)"
    )
    assert messages == ["line 7 of 80"] + [f"line {n} of 80" for n in range(70, 80)]
    page.fill("[data-role=search] input[name=q]", "")
    page.click("[data-role=search] button")
    page.click("button[data-level=warnings]")
    wait_for(
        lambda: page.inner_text("[data-role=status]").startswith("No matching line"),
        10,
        "the empty warnings filter",
    )
    assert page.evaluate(PAGE_STATE)["lines"] == 0
    page.click("button[data-level=all]")
    wait_for(lambda: page.evaluate(PAGE_STATE)["lines"] == N_LINES, 10, "all lines again")

    assert worker.wait(timeout=120) == 0  # a guard against a hang, not a timing
    report.refresh_from_db()
    assert report.invocation_result == "ok" and report.n_lines == N_LINES

    # The task list shows the finished run; the task's page is a screenshot for the admin guide
    # (test_task_list.py takes the task list's).
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_changelist')}")
    assert "Demo lines" in page.inner_text("#result_list")
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_change', args=[task.pk])}")
    page.screenshot(path=str(shots / "task_page.png"), full_page=True)
    width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the task page scrolls sideways: {width}"
    for name in ("live_log.png", "task_page.png"):
        assert (shots / name).stat().st_size > 10_000


def test_live_viewer_follows_a_task_function(live_server, browser_page, rq_worker):
    """A ``@task`` function enqueued through Django's task API: its log lines (Python
    logging) arrive in the same live viewer while it runs, and its result follows."""
    from eztaskmanager.internals import djangotasks

    if not djangotasks.AVAILABLE:
        pytest.skip("needs Django 6 or the django-tasks package")
    from tests.testapp.tasks import count_lines

    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    n = 30
    result = count_lines.enqueue(n, pause=0.1)
    page = browser_page
    log_in(page, live_server.url)
    rq_worker()
    report = wait_for(
        lambda: LaunchReport.objects.filter(call_id=result.id, started_at__isnull=False).first(),
        30,
        "the worker to start the call",
    )
    page.goto(f"{live_server.url}{reverse('eztaskmanager:live_log_viewer', args=[report.pk])}")
    page.wait_for_selector("#eztm-live")
    assert "tests.testapp.tasks.count_lines" in page.inner_text("body")
    samples = []

    def sample():
        samples.append(page.evaluate(PAGE_STATE))
        return samples[-1]

    wait_for(lambda: sample()["result"] == "ok", 60, "the call to end in the viewer")
    final = samples[-1]
    assert final["lines"] == n and final["last"].endswith(f"line {n} of {n}")
    assert final["progressShown"] and final["progress"] == final["progressMax"] == n
    partial = {s["lines"] for s in samples if s["result"] == "running" and 0 < s["lines"] < n}
    assert len(partial) >= 2, f"lines did not arrive while the call ran: {sorted(partial)}"
    result.refresh()
    assert result.return_value == n
