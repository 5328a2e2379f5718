"""In a real browser: the task form previews its arguments as they are typed.

An option typed inside another's unquoted value is refused under the field with the fix the
save would give; once corrected, the preview shows the command line a run executes, and the
form saves the same text.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from eztaskmanager.models import Task
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

PREVIEW = "#eztm-arguments-preview"


def test_the_arguments_preview_in_the_browser(live_server, browser_page, make_command, tmp_path):
    shots = Path(os.environ.get("EZTM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    command = make_command("eztm_echo")
    page = browser_page
    User.objects.create_superuser("boss", "boss@example.com", "a-long-password")
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}{reverse('admin:eztaskmanager_task_add')}")

    # The box sits under the arguments field, and asks for a command first.
    page.wait_for_selector(f".form-row.field-arguments {PREVIEW}")
    page.wait_for_function(
        "() => document.querySelector('#eztm-arguments-preview').textContent.includes("
        "'Choose a command')"
    )
    page.fill("#id_name", "Import prices")
    page.select_option("#id_command", str(command.pk))

    # Typed as 0.5.x would have read it: --count would end up inside the title.
    page.locator("#id_arguments").press_sequentially("--title backup --count 3", delay=20)
    error = page.locator(f"{PREVIEW} .eztm-preview-error")
    error.wait_for()
    assert error.inner_text() == (
        "--title would get the value 'backup --count 3', which holds the option --count: "
        "put a comma before --count, or quote the value."
    )
    assert "Saving refuses these arguments:" in page.inner_text(PREVIEW)

    # The fix: a comma before --count; the preview shows the command line.
    page.fill("#id_arguments", "nightly, --title backup, --count 3")
    line = page.locator(f"{PREVIEW} .eztm-preview-line")
    line.wait_for()
    assert line.inner_text() == "manage.py eztm_echo nightly --title backup --count 3"
    assert page.locator(f"{PREVIEW} .eztm-preview-error").count() == 0
    page.locator(".form-row.field-arguments").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "task_form_preview.png"), full_page=False)

    # An invalid int: the message the save gives, and the save gives it.
    page.fill("#id_arguments", "nightly, --count many")
    page.wait_for_function(
        "() => document.querySelector('#eztm-arguments-preview').textContent.includes("
        "\"invalid int value: 'many'\")"
    )
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "argument --count: invalid int value: 'many'" in page.inner_text(
        ".form-row.field-arguments .errorlist"
    )
    assert not Task.objects.exists()

    # The preview's accepted text is saved as it is.
    page.fill("#id_arguments", "nightly, --title backup, --count 3")
    line.wait_for()
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    task = Task.objects.get(name="Import prices")
    assert task.arguments == "nightly, --title backup, --count 3"
    assert task.complete_args == ["nightly", "--title", "backup", "--count", "3"]
    assert (shots / "task_form_preview.png").stat().st_size > 10_000
