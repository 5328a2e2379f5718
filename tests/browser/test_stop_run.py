"""In a real browser: stop a running run from its live log, and see the page end "stopped"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from eztaskmanager.models import LaunchReport
from eztaskmanager.services.queues import get_task_service
from tests.browser.conftest import log_in
from tests.browser.test_live_log import wait_for

pytestmark = pytest.mark.browser

PAGE_STATE = """() => {
    const root = document.getElementById("eztm-live");
    const stop = root.querySelector("form[data-role=stop]");
    const again = root.querySelector("form[data-role=again]");
    return {
        result: root.querySelector("[data-field=result]").textContent.trim().toLowerCase(),
        failure: root.querySelector("[data-field=failure_reason]").textContent.trim(),
        failureShown: !root.querySelector("[data-field=failure_row]").hidden,
        // Shown on the screen, not only without the hidden attribute.
        stopShown: !!stop && getComputedStyle(stop).display !== "none",
        againShown: !!again && getComputedStyle(again).display !== "none",
    };
}"""


def test_stop_a_run_from_its_live_log(live_server, browser_page, rq_worker, make_task, tmp_path):
    # EZTM_SCREENSHOTS names a folder to keep the screenshots in (the docs take theirs there).
    shots = Path(os.environ.get("EZTM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    task = make_task("eztm_sleep", "60", name="Slow import")
    page = browser_page

    log_in(page, live_server.url)

    get_task_service().launch(task)
    worker = rq_worker()
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task, n_lines__gt=0).first(),
        30,
        "the worker to start the run",
    )
    page.goto(f"{live_server.url}{reverse('eztaskmanager:live_log_viewer', args=[report.pk])}")
    page.wait_for_selector("#eztm-live")
    state = page.evaluate(PAGE_STATE)
    assert state["result"] == "running" and state["stopShown"] and not state["againShown"]

    page.click("form[data-role=stop] button")
    page.wait_for_selector(".messagelist")
    assert "asked to stop" in page.inner_text(".messagelist")
    # The page polls on: once the worker has killed the run, it shows the final state.
    final = wait_for(
        lambda: (s := page.evaluate(PAGE_STATE))["result"] != "running" and s,
        20,
        "the page to show the stopped run",
    )
    assert final["failureShown"] and final["failure"] == "stopped by boss", final
    assert not final["stopShown"] and final["againShown"], final
    page.screenshot(path=str(shots / "live_log_stopped.png"), full_page=True)

    report.refresh_from_db()
    assert (report.invocation_result, report.failure_reason) == ("failed", "stopped by boss")
    assert worker.wait(timeout=120) == 0  # a guard against a hang, not a timing
    assert (shots / "live_log_stopped.png").stat().st_size > 10_000
