"""docs/getting-started.rst, carried out block by block in a new project (see ``walkthrough``).

The page is read when the test runs: a project is made with ``django-admin startproject`` in a
temporary directory, with the test virtualenv's Python (this package is installed there, editable;
nothing is installed from the network), and every block of the page is applied or run in order.
The page's Redis URL is replaced by this test run's own Redis database, emptied before and after.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import metadata
from importlib.util import find_spec

import pytest

from tests.conftest import ROOT
from tests.docs.walkthrough import (
    SUPERUSER,
    Walkthrough,
    code_blocks,
    console_steps,
    literal_blocks,
    output_pattern,
)
from tests.integration.conftest import wait_for

PAGE = ROOT / "docs" / "getting-started.rst"
README = ROOT / "README.md"
PAGE_REDIS_URL = "redis://127.0.0.1:6379/0"
DISTRIBUTION = "django-eztaskmanager"


def page_text() -> str:
    return PAGE.read_text()


# -- the page's form (fast) -------------------------------------------------------------------


def test_every_block_of_the_page_is_one_the_walkthrough_carries_out():
    text = page_text()
    assert literal_blocks(text) == [], "use code-block directives, which the test carries out"
    blocks = code_blocks(text)
    assert len(blocks) == text.count(".. code-block::")
    for block in blocks:
        if block.language == "console":
            assert console_steps(block.text), f"{block.where()} has no $ command"
        elif block.language != "sh":
            assert block.caption, f"{block.where()} needs a :caption: naming its file"


def test_the_page_uses_a_redis_url_the_test_can_replace():
    settings_blocks = [b for b in code_blocks(page_text()) if "settings.py" in b.caption]
    # Once, in the first: the optional email step adds other settings.
    assert [b.text.count(PAGE_REDIS_URL) for b in settings_blocks][:1] == [1]
    assert sum(b.text.count(PAGE_REDIS_URL) for b in settings_blocks) == 1


def installed_extras() -> set[str]:
    return set(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or [])


def test_the_extras_named_on_the_page_and_in_the_readme_exist():
    named = set(re.findall(r"\[(\w+)\]", page_text()))
    readme_named = set(re.findall(r"`\[(\w+)\]`", README.read_text()))
    assert named and readme_named
    assert named <= installed_extras()
    assert readme_named <= installed_extras()
    assert readme_named == named, "README and getting-started name the same extras"


def readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_readme_install_section_agrees_with_the_page():
    """Each line of code in README's "Install in a project" is a line of the page's blocks
    (where the page adds its example app, ``"hello"``, to ``INSTALLED_APPS``)."""
    page_lines = {
        line.strip().replace(', "hello"', "")
        for block in code_blocks(page_text())
        for line in block.text.splitlines()
    }
    section = readme_section("Install in a project")
    readme_code = re.findall(r"```\w*\n(.*?)```", section, re.S)
    lines = [line.strip() for code in readme_code for line in code.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    assert lines
    assert [line for line in lines if line not in page_lines] == []


def test_console_output_patterns():
    pattern = output_pattern("a\n...\nb ... c\n")
    assert pattern.fullmatch("a\nb x c\n")
    assert pattern.fullmatch("a\n1\n2\nb xyz c\n")
    assert not pattern.fullmatch("a\nb x d\n")
    assert not pattern.fullmatch("a\nb c\nextra\n")


# -- the walkthrough (slow: real commands, workers and Redis) ---------------------------------


def check_pip_install(arguments: list[str]) -> None:
    """The page's ``pip install``: the distribution and the extras it names are installed."""
    (requirement,) = arguments
    name, _, extras = requirement.partition("[")
    assert name == DISTRIBUTION
    extras = {e.strip() for e in extras.rstrip("]").split(",") if e.strip()}
    assert extras <= installed_extras()
    for extra in extras:
        for dependency in metadata.requires(DISTRIBUTION):
            if f'extra == "{extra}"' in dependency:
                module = re.match(r"[\w-]+", dependency)[0].replace("-", "_")
                assert find_spec(module), f"{module} ({extra} extra) is not installed"


def latest_report(project) -> tuple[int, str]:
    with sqlite3.connect(project / "db.sqlite3") as db:
        return db.execute(
            "SELECT id, invocation_result FROM eztaskmanager_launchreport ORDER BY id DESC"
        ).fetchone()


def check_devserver(walk: Walkthrough, command: str) -> None:
    """Start it on a free port; log in to the admin, launch the task, read its live log, and
    stop it all with a Ctrl-C."""
    from tests.integration.test_devserver import Browser, alive, free_port

    port = free_port()
    devserver = walk.start(f"{command} 127.0.0.1:{port}")
    output = walk.wait_for_output(devserver, "django-eztaskmanager is running")
    assert f"django-eztaskmanager is running: http://127.0.0.1:{port}/admin/" in output

    username, _, password = SUPERUSER
    browser = Browser(f"http://127.0.0.1:{port}")
    browser.post(
        "/admin/login/", [("username", username), ("password", password), ("next", "/admin/")]
    )
    task_list = browser.get("/admin/eztaskmanager/task/")
    assert "Say hello" in task_list
    task_id = re.search(r'name="_selected_action" value="(\d+)"', task_list)[1]
    page = browser.post(
        "/admin/eztaskmanager/task/",
        [("action", "launch_tasks"), ("index", "0"), ("_selected_action", task_id)],
    )
    assert "Queued for a worker: “Say hello”." in page
    report_id, _ = latest_report(walk.cwd)
    follow = walk.run(f"python manage.py taskmanager logs {report_id} --follow", timeout=60)
    assert f"Run {report_id} of 'Say hello': ok (3 lines" in follow.stdout
    live_log = browser.get(f"/eztaskmanager/livelogviewer/{report_id}/")
    assert f"Live log of Say hello, run {report_id}" in live_log
    lines = json.loads(browser.get(f"/eztaskmanager/read_loglines/{report_id}/?after=0"))
    assert [line["message"] for line in lines["lines"]] == [
        f"Hello, world! ({n} of 3)" for n in (1, 2, 3)
    ]

    family = walk.background_family(devserver)
    os.killpg(devserver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert devserver.wait(timeout=30) == 0, walk.output(devserver)
    assert "Stopped: web server, worker and scheduler." in walk.output(devserver)
    assert [pid for pid in family if alive(pid)] == []


READY = {"rqworker": "*** Listening on", "scheduler": "Registering birth"}


def start_server(walk: Walkthrough, command: str) -> None:
    words = shlex.split(command)
    if "devserver" in words:
        check_devserver(walk, command)
        return
    process = walk.start(command)
    walk.wait_for_output(process, READY["rqworker" if "rqworker" in words else "scheduler"])


def check_scheduled_run(walk: Walkthrough) -> None:
    """The worker and the scheduler the page left running run a task scheduled in 2 s."""
    when = datetime.now(UTC) + timedelta(seconds=2)
    declaration = {
        "name": "Scheduled hello",
        "command": "greet",
        "arguments": "scheduler, --times 1",
        "scheduling": when.isoformat(timespec="seconds"),
    }
    (walk.cwd / "scheduled.json").write_text(json.dumps([declaration]))
    walk.run("python manage.py taskmanager load scheduled.json")
    wait_for(
        lambda: latest_report(walk.cwd) == (3, "ok"),
        timeout=30,
        interval=0.2,
        what="the scheduled run to end",
    )


@pytest.mark.integration
def test_getting_started_page_from_pip_install_to_a_run(tmp_path, real_redis, settings):
    walk = Walkthrough(tmp_path, replacements={PAGE_REDIS_URL: settings.REDIS_URL})
    try:
        for block in code_blocks(page_text()):
            walk.carry_out(block, on_server=start_server, on_pip=check_pip_install)
        check_scheduled_run(walk)
    except BaseException:
        print("\n".join(walk.transcript)[-20000:])
        for process, log in walk.background:
            print(f"----- {' '.join(process.args[2:])} -----\n{log.read_text()[-5000:]}")
        raise
    finally:
        walk.stop_all()
    # The shell's run, the admin's and the scheduler's, and no other.
    assert latest_report(walk.cwd) == (3, "ok")
