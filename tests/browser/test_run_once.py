"""In a real browser: run a task once with other arguments, and give it a follow-up task.

The run-once box sits inside the task's form but belongs to a form of its own (``form=``
attribute): the browser must send it to the launch URL, and the task's Save must not take it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from eztaskmanager.models import FollowUp, LaunchReport, Task
from tests.browser.conftest import log_in
from tests.browser.test_live_log import wait_for

pytestmark = pytest.mark.browser


def test_run_once_and_follow_ups_in_the_browser(
    live_server, browser_page, rq_worker, make_task, tmp_path
):
    shots = Path(os.environ.get("EZTM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    task = make_task("eztm_echo", "nightly, --count 1", name="Import prices")
    report_task = make_task("eztm_lines", "3", name="Send the report")
    page = browser_page
    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    log_in(page, live_server.url)
    change = f"{live_server.url}{reverse('admin:eztaskmanager_task_change', args=[task.pk])}"

    # A follow-up added with the inline's "Add another" row, then saved with the form.
    page.goto(change)
    page.click("#follow_ups-group .add-row a")
    page.select_option("select[name=follow_ups-0-then]", str(report_task.pk))
    page.fill("input[name=follow_ups-0-results]", "ok, warnings")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    [follow_up] = FollowUp.objects.all()
    assert (follow_up.task_id, follow_up.then_id) == (task.pk, report_task.pk)
    assert Task.objects.get(pk=task.pk).arguments == "nightly, --count 1"  # Save left it alone

    # Run once with other arguments: the box is prefilled with the task's own.
    box = page.locator("#eztm-run-arguments")
    assert box.input_value() == "nightly, --count 1"
    box.fill("--count many")
    page.click("button:has-text('Run once with these arguments')")
    page.wait_for_selector(".messagelist")
    assert "“Import prices” was not launched: argument --count: invalid int value" in (
        page.inner_text(".messagelist")
    )
    page.locator("#eztm-run-arguments").fill("backfill, --count 3")
    page.screenshot(path=str(shots / "task_page_run_once.png"), full_page=True)
    page.click("button:has-text('Run once with these arguments')")
    page.wait_for_selector(".messagelist")
    assert "Queued for a worker: “Import prices”." in page.inner_text(".messagelist")
    assert Task.objects.get(pk=task.pk).arguments == "nightly, --count 1"

    worker = rq_worker()
    assert worker.wait(timeout=180) == 0  # a guard against a hang, not a timing
    run = LaunchReport.objects.get(task=task)
    assert run.arguments == "backfill, --count 3" and run.invocation_result == "warnings"
    follow_up_run = wait_for(
        lambda: LaunchReport.objects.filter(task=report_task).exclude(invocation_result="").first(),
        30,
        "the follow-up run",
    )
    assert follow_up_run.triggered_by_id == run.pk

    # The follow-up's log names the run that launched it, with a link that leads there.
    page.goto(f"{live_server.url}{reverse('eztaskmanager:log_viewer', args=[follow_up_run.pk])}")
    page.click(f"a:has-text('run {run.pk} of Import prices')")
    page.wait_for_selector("#eztm-summary")
    assert "backfill, --count 3" in page.inner_text("#eztm-summary")
    assert page.url.endswith(reverse("eztaskmanager:log_viewer", args=[run.pk]))
    assert (shots / "task_page_run_once.png").stat().st_size > 10_000
