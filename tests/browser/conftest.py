"""Fixtures of the browser tests: headless Chromium driven by Playwright, a real rqworker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.db import connections
from django.urls import reverse

from tests.conftest import ROOT, subprocess_env, unavailable

CHROMIUM = os.environ.get("EZTM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(monkeypatch):
    """A page of a headless Chromium.

    A missing Chromium skips the test with the reason (fails under EZTM_REQUIRE_ALL=1, as in CI);
    a Chromium that is there but cannot start always fails it.
    """
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(
            f"Chromium is not installed at {CHROMIUM}: as root, `make test` installs Debian's "
            "chromium; otherwise apt-get install chromium chromium-driver"
        )
    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse the test's own (synchronous) ORM calls unless told they are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not installed: {exc}")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.fail(f"Chromium ({CHROMIUM}) cannot be started: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            # Connections the test opened while Playwright's loop ran belong to that context:
            # close them here, or the test database could not be dropped at the end.
            connections.close_all()
            browser.close()


def log_in(page, base_url: str, username: str = "boss", password: str = "a-long-password"):
    """Log ``page`` in to the admin at ``base_url`` (the tests' superuser by default)."""
    page.goto(f"{base_url}{reverse('admin:login')}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


@pytest.fixture
def rq_worker(tmp_path, real_redis, transactional_db):
    """Start ``rqworker --burst`` in the background on demand; always stopped at the end."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"rqworker-{len(started)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "django", "rqworker", "--burst", "default"],
            env=subprocess_env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
