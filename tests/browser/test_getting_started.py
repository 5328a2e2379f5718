"""In a real browser, on the project docs/getting-started.rst builds: the first hour in the admin.

The page's blocks are carried out (``tests/docs/walkthrough``) up to its ``taskmanager devserver``,
which then serves the project, with its worker and scheduler, on a free port. Then, in Chromium:

1. a task whose arguments are typed the shell way (``--greeting Hi --times 2``) is refused on
   save with the fix in the message, and saved once corrected;
2. a run of it and its live log; a minute-long run stopped from its live log, which ends
   "stopped by admin";
3. a task scheduled from the admin form with the cron expression ``* * * * *`` runs twice;
4. Stop pauses that schedule: no run while a minute passes; Resume shows its next run again;
5. a failed run (``--times 0``) sends an email, through the page's optional email step, that
   links to the run's live log and holds no server file path.

Cron has a one-minute granularity (five fields, ``eztaskmanager.schedules.validate_cron``), so
steps 3 and 4 wait for minute boundaries: two runs, then one minute paused. Steps 1, 2 and 5
are done while the first of those minutes goes by; the test takes about three minutes.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import log_in
from tests.conftest import ROOT
from tests.docs.test_getting_started import PAGE_REDIS_URL, check_pip_install, page_text
from tests.docs.walkthrough import SUPERUSER, Walkthrough, code_blocks
from tests.integration.conftest import wait_for
from tests.integration.test_devserver import free_port

pytestmark = pytest.mark.browser

# The address the page gives the devserver, which its email step sets as EZTASKMANAGER_BASE_URL:
# replaced by the test's own.
PAGE_ADDRESS = "http://127.0.0.1:8000"
# What the page's settings name: the folder the file-based email backend writes to.
EMAIL_FOLDER = "sent-emails"
# Hang guards, not timings: a loaded 2-core machine is slow.
RUN_GUARD = 120
# Two cron runs: the first minute boundary after the schedule is saved, and the next one.
CRON_GUARD = 200

LIVE_STATE = """() => {
    const root = document.getElementById("eztm-live");
    const stop = root.querySelector("form[data-role=stop]");
    return {
        lines: [...root.querySelectorAll("[data-role=lines] .eztm-line")].map(l => l.textContent),
        result: root.querySelector("[data-field=result]").textContent.trim().toLowerCase(),
        failure: root.querySelector("[data-field=failure_reason]").textContent.trim(),
        stopShown: !!stop && getComputedStyle(stop).display !== "none",
    };
}"""

REFUSAL = (
    "--greeting would get the value 'Hi --times 2', which holds the option --times: "
    "put a comma before --times, or quote the value."
)


def no_server(walk, command):
    raise AssertionError(f"the page starts {command!r} before taskmanager devserver")


def screenshot(page, name: str) -> None:
    """Kept only when EZTM_SCREENSHOTS names a folder (the docs take theirs there)."""
    folder = os.environ.get("EZTM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"first_hour_{name}.png"), full_page=True)


def messages(page) -> str:
    page.wait_for_selector(".messagelist")
    return page.inner_text(".messagelist")


def add_task(page, base: str, name: str, arguments: str, cron: str = "") -> str:
    """Fill the admin's Add Task form with the command greet; return the page's URL after
    Save and continue editing."""
    page.goto(f"{base}/admin/eztaskmanager/task/add/")
    page.fill("#id_name", name)
    greet = page.locator("#id_command option", has_text="greet")
    page.select_option("#id_command", greet.get_attribute("value"))
    page.fill("#id_arguments", arguments)
    if cron:
        page.fill("#id_cron_expression", cron)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist, .errornote")
    return page.url


def live_state(page):
    return page.evaluate(LIVE_STATE)


def wait_for_result(page, what: str, timeout: float = RUN_GUARD) -> dict:
    """The live log's state once the run has ended (the page polls on by itself)."""
    return wait_for(
        lambda: (s := live_state(page))["result"] not in ("", "queued", "running") and s,
        timeout=timeout,
        interval=0.3,
        what=what,
    )


def open_live_log(page) -> int:
    """On the task's page, follow the live log link of its newest run (the highest number);
    return the run's number."""
    links = page.locator("a[href*='/eztaskmanager/livelogviewer/']")
    newest = max(links.all(), key=lambda link: run_number(link.get_attribute("href")))
    number = run_number(newest.get_attribute("href"))
    newest.click()
    page.wait_for_selector("#eztm-live")
    assert run_number(page.url) == number
    return number


def run_number(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[1])


def run_once(page, task_url: str, arguments: str) -> int:
    """Run once with other arguments, from the task's page; return the run's number."""
    page.goto(task_url)
    page.fill("#eztm-run-arguments", arguments)
    page.click("button:has-text('Run once with these arguments')")
    assert "Queued for a worker" in messages(page)
    return open_live_log(page)


def task_reports(page, base: str, task_id: str) -> list[str]:
    """The results in the admin's list of runs of one task, newest first."""
    page.goto(f"{base}/admin/eztaskmanager/launchreport/?task__id__exact={task_id}")
    return [cell.strip() for cell in page.locator("#result_list td.field-result").all_inner_texts()]


def task_id_of(url: str) -> str:
    return url.rstrip("/").split("/")[-2]


def sent_emails(folder: Path) -> list[email.message.EmailMessage]:
    """The messages the file-based backend wrote (one file per connection, each message
    followed by a line of dashes)."""
    found = []
    for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
        for raw in path.read_text().split("\n" + "-" * 79 + "\n"):
            if raw.strip():
                found.append(email.message_from_string(raw, policy=email.policy.default))
    return found


def email_text(message) -> str:
    """Headers and every decoded text part."""
    parts = [str(message[h]) for h in ("Subject", "From", "To")]
    parts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(parts)


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


def test_the_first_hour_on_the_getting_started_project(
    tmp_path, real_redis, settings, browser_page
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    text = page_text()
    assert f'EZTASKMANAGER_BASE_URL = "{PAGE_ADDRESS}"' in text
    walk = Walkthrough(
        tmp_path, replacements={PAGE_REDIS_URL: settings.REDIS_URL, PAGE_ADDRESS: base}
    )
    blocks = code_blocks(text)
    first = next(i for i, block in enumerate(blocks) if "taskmanager devserver" in block.text)
    (command,) = [line for line in blocks[first].text.splitlines() if "devserver" in line]
    page = browser_page
    try:
        for block in blocks[:first]:
            walk.carry_out(block, on_server=no_server, on_pip=check_pip_install)
        project = walk.cwd
        devserver = walk.start(f"{command} 127.0.0.1:{port}")
        walk.wait_for_output(devserver, f"django-eztaskmanager is running: {base}/admin/")

        username, _, password = SUPERUSER
        log_in(page, base, username, password)

        # 3 (begun): a schedule every minute, saved first so that its minutes go by while the
        # other steps are done.
        cron_url = add_task(page, base, "Greet every minute", "minute, --times 1", "* * * * *")
        assert "“Greet every minute” is scheduled; next run at" in messages(page)
        cron_id = task_id_of(cron_url)

        # 1: typed the shell way, --times is inside --greeting's value: refused with the fix.
        add_task(page, base, "Greet the browser", "browser, --greeting Hi --times 2")
        assert page.locator(".errornote").count() == 1
        assert REFUSAL in page.inner_text(".form-row.field-arguments .errorlist")
        screenshot(page, "arguments_refused")
        page.fill("#id_arguments", "browser, --greeting Hi, --times 2")
        page.click("input[name=_continue]")
        assert "was added successfully" in messages(page)
        task_url = page.url

        # 2: a run and its live log.
        page.click("form.eztm-tool button:has-text('Run now')")
        assert "Queued for a worker: “Greet the browser”." in messages(page)
        open_live_log(page)
        state = wait_for_result(page, "the run to end in the page")
        assert state["result"] == "ok", state
        # Each line: its number, time, level and message.
        assert len(state["lines"]) == 2, state["lines"]
        for n, line in enumerate(state["lines"], 1):
            assert line.startswith(f"{n} ") and line.endswith(f"INFO Hi, browser! ({n} of 2)")

        # 2: a minute-long run, stopped from its live log.
        run_once(page, task_url, "browser, --times 60")
        wait_for(
            lambda: (s := live_state(page))["lines"] and s["stopShown"],
            timeout=RUN_GUARD,
            interval=0.3,
            what="the long run's first line in its live log",
        )
        page.click("form[data-role=stop] button")
        assert "was asked to stop; its report ends “stopped by admin”." in messages(page)
        state = wait_for_result(page, "the stopped run to end in the page")
        assert (state["result"], state["failure"]) == ("failed", "stopped by admin"), state
        assert not state["stopShown"]
        screenshot(page, "live_log_stopped")

        # 5: a failed run mails a message that links to its live log, and no server path.
        failed = run_once(page, task_url, "browser, --times 0")
        state = wait_for_result(page, "the failing run to end in the page")
        assert state["result"] == "failed", state
        assert "--times must be 1 or more." in state["failure"], state
        log_link = f"{base}/eztaskmanager/livelogviewer/{failed}/"

        def the_failure_email():
            mails = [m for m in sent_emails(project / EMAIL_FOLDER) if log_link in email_text(m)]
            return mails[0] if mails else None

        mail = wait_for(the_failure_email, timeout=RUN_GUARD, interval=0.5, what="the email")
        body = email_text(mail)
        assert mail["To"] == "you@example.com"
        assert "Greet the browser: failed" in mail["Subject"]
        assert "--times must be 1 or more." in body
        raw = mail.as_string()
        for server_detail in (
            "site-packages",
            "Traceback",
            str(tmp_path),
            str(ROOT),
            tempfile.gettempdir() + "/",
        ):
            assert server_detail not in body and server_detail not in raw, server_detail

        # 3: two runs of the schedule (or more, on a machine slow enough to reach this line
        # after the second), ended, in the admin's list of its runs.
        wait_for(
            lambda: len(r := task_reports(page, base, cron_id)) >= 2 and set(r) == {"ok"},
            timeout=CRON_GUARD,
            interval=2,
            what="two runs of the schedule every minute",
        )
        screenshot(page, "cron_runs")

        # 4: Stop pauses the schedule; no run while the next minute boundary goes by.
        page.goto(cron_url)
        page.click("form.eztm-tool button:has-text('Stop')")
        assert "“Greet every minute” is stopped (its schedule, if any, is paused)" in (
            messages(page)
        )
        assert page.locator("#eztm-schedule-paused").count() == 1
        paused_at = datetime.now(UTC)
        runs = task_reports(page, base, cron_id)
        page.goto(f"{base}/admin/eztaskmanager/task/?q=every+minute")
        assert page.inner_text("#result_list td.field-next_run .eztm-paused") == "paused"
        # A minute boundary, and time for a run it would have started to show (a firing is
        # sent within a second of its time), go by with the schedule paused.
        time.sleep(max(0.0, (next_minute(paused_at) - datetime.now(UTC)).total_seconds()) + 15)
        assert task_reports(page, base, cron_id) == runs

        # 4: Resume: the schedule is back, with its next run.
        page.goto(cron_url)
        page.click("form.eztm-tool button:has-text('Resume')")
        assert "“Greet every minute” is resumed; next run at" in messages(page)
        assert page.locator("#eztm-schedule-paused").count() == 0
        page.goto(f"{base}/admin/eztaskmanager/task/?q=every+minute")
        cell = page.locator("#result_list td.field-next_run")
        assert cell.locator(".eztm-paused").count() == 0
        assert cell.locator(".eztm-when").inner_text() in ("in under a minute", "just now")
        screenshot(page, "cron_resumed")

        os.killpg(devserver.pid, signal.SIGINT)
        assert devserver.wait(timeout=30) == 0, walk.output(devserver)
    except BaseException:
        print("\n".join(walk.transcript)[-20000:])
        for process, log in walk.background:
            print(f"----- {' '.join(process.args[2:])} -----\n{log.read_text()[-8000:]}")
        raise
    finally:
        walk.stop_all()
