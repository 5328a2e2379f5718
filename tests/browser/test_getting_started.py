"""In a real browser, on the project docs/getting-started.rst builds: log in to the admin, add a
task with arguments, run it and watch its live log.

The page's blocks are carried out (``tests/docs/walkthrough``) up to its ``taskmanager devserver``,
which then serves the project, with its worker and scheduler, on a free port.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.browser.conftest import log_in
from tests.docs.test_getting_started import PAGE_REDIS_URL, check_pip_install, page_text
from tests.docs.walkthrough import SUPERUSER, Walkthrough, code_blocks
from tests.integration.conftest import wait_for
from tests.integration.test_devserver import free_port

pytestmark = pytest.mark.browser

LIVE_STATE = """() => {
    const root = document.getElementById("eztm-live");
    return {
        lines: [...root.querySelectorAll("[data-role=lines] .eztm-line")].map(l => l.textContent),
        result: root.querySelector("[data-field=result]").textContent.trim(),
    };
}"""


def no_server(walk, command):
    raise AssertionError(f"the page starts {command!r} before taskmanager devserver")


def test_getting_started_project_in_the_admin(tmp_path, real_redis, settings, browser_page):
    walk = Walkthrough(tmp_path, replacements={PAGE_REDIS_URL: settings.REDIS_URL})
    blocks = code_blocks(page_text())
    first = next(i for i, block in enumerate(blocks) if "taskmanager devserver" in block.text)
    (command,) = [line for line in blocks[first].text.splitlines() if "devserver" in line]
    page = browser_page
    try:
        for block in blocks[:first]:
            walk.carry_out(block, on_server=no_server, on_pip=check_pip_install)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        devserver = walk.start(f"{command} 127.0.0.1:{port}")
        walk.wait_for_output(devserver, f"django-eztaskmanager is running: {base}/admin/")

        username, _, password = SUPERUSER
        log_in(page, base, username, password)
        page.goto(f"{base}/admin/eztaskmanager/task/add/")
        page.fill("[name=name]", "Greet the browser")
        greet = page.locator("select[name=command] option", has_text="greet")
        page.select_option("select[name=command]", greet.get_attribute("value"))
        page.fill("[name=arguments]", "browser, --times 2")
        page.click("input[name=_continue]")
        page.wait_for_selector(".messagelist")
        assert "was added successfully" in page.inner_text(".messagelist")

        page.click("form.eztm-tool button:has-text('Run now')")
        page.wait_for_selector(".messagelist")
        assert "Queued for a worker: “Greet the browser”." in page.inner_text(".messagelist")
        live_link = page.locator("a[href*='/eztaskmanager/livelogviewer/']").first
        live_link.click()
        page.wait_for_selector("#eztm-live")

        def finished():
            state = page.evaluate(LIVE_STATE)
            return state if state["result"] == "ok" else None

        state = wait_for(finished, timeout=30, interval=0.2, what="the run to end in the page")
        # Each line: its number, time, level and message.
        assert len(state["lines"]) == 2, state["lines"]
        for n, line in enumerate(state["lines"], 1):
            assert line.startswith(f"{n} ") and line.endswith(f"INFO Hello, browser! ({n} of 2)")

        os.killpg(devserver.pid, signal.SIGINT)
        assert devserver.wait(timeout=30) == 0, walk.output(devserver)
    except BaseException:
        print("\n".join(walk.transcript)[-20000:])
        for process, log in walk.background:
            print(f"----- {' '.join(process.args[2:])} -----\n{log.read_text()[-5000:]}")
        raise
    finally:
        walk.stop_all()
