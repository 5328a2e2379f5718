"""The task list's cells: name and invocation, state, last and next run, schedule in words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.admin.display import relative_time, schedule_words
from eztaskmanager.models import AppCommand, Task
from tests.admin.test_admin import add_report, changelist_url, count_queries
from tests.factories import running_report

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")  # the test settings' TIME_ZONE
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=ROME)


def rows_by_name(body: str) -> dict[str, str]:
    """The HTML of each changelist row, by the task name shown in it."""
    rows = {}
    for row in re.findall(r"<tr>.*?</tr>", body, re.S):
        name = re.search(r'class="eztm-task-name"[^>]*>([^<]*)<', row)
        if name:
            rows[name.group(1)] = row
    return rows


def cell(row: str, column: str) -> str:
    match = re.search(rf'<t[dh] class="field-{column}[^"]*">(.*?)</t[dh]>', row, re.S)
    assert match, f"no {column} cell in {row}"
    return match.group(1)


# -- relative times and schedules in words -----------------------------------------------------


@pytest.mark.parametrize(
    "delta, text",
    [
        (timedelta(seconds=-20), "just now"),
        (timedelta(seconds=20), "in under a minute"),
        (timedelta(minutes=-5, seconds=-10), "5\xa0minutes ago"),
        (timedelta(hours=2, minutes=40), "in 2\xa0hours"),
        (timedelta(days=-3, hours=-5), "3\xa0days ago"),
    ],
)
def test_relative_time_keeps_the_largest_unit(delta, text):
    assert relative_time(NOW + delta, NOW) == text


@pytest.mark.parametrize(
    "fields, words",
    [
        ({}, "-"),
        ({"scheduling": datetime(2026, 12, 3, 14, 0, tzinfo=ROME)}, "once, Dec. 3, 2026, 2 p.m."),
        ({"repetition_period": "hour", "repetition_rate": 2}, "every 2 hours"),
        (
            {"repetition_period": "minute", "repetition_rate": 15, "scheduling": NOW},
            "every 15 minutes",
        ),
        (
            {
                "repetition_period": "day",
                "repetition_rate": 1,
                "scheduling": datetime(2026, 7, 1, 2, 30, tzinfo=ROME),
            },
            "every day at 02:30",
        ),
        (
            {
                "repetition_period": "week",
                "repetition_rate": 2,
                "scheduling": datetime(2026, 3, 9, 6, 0, tzinfo=ROME),
            },
            "every 2 weeks on Mon at 06:00",
        ),
        (
            {
                "repetition_period": "month",
                "repetition_rate": 1,
                "scheduling": datetime(2026, 1, 31, 23, 15, tzinfo=ROME),
            },
            "every month on day 31 at 23:15",
        ),
    ],
)
def test_schedule_in_words(fields, words):
    assert schedule_words(Task(name="t", **fields)) == words


def test_schedule_in_words_of_a_cron_expression():
    words = schedule_words(Task(name="t", cron_expression="30 2 * * *"))
    assert words == Task(cron_expression="30 2 * * *").cron_description
    assert "02:30" in words or "2:30" in words


# -- the task list -----------------------------------------------------------------------------


def test_each_state_at_a_glance(admin_client, make_task):
    idle = make_task(name="never run")
    queued = make_task(name="waiting")
    Task.objects.filter(pk=queued.pk).update(status=Task.STATUS_SPOOLED)
    scheduled = make_task(
        name="hourly",
        repetition_period="hour",
        repetition_rate=1,
        scheduling=timezone.now() + timedelta(minutes=30),
    )
    add_report(scheduled, "ok", [("INFO", "fine")])
    Task.objects.filter(pk=scheduled.pk).update(
        status=Task.STATUS_SCHEDULED, cached_next_ride=timezone.now() + timedelta(minutes=30)
    )
    broken = make_task(name="broken")
    failed = add_report(broken, "failed", [("ERROR", "boom")])
    running = make_task("eztm_lines", "10", name="busy")
    add_report(running, "warnings", [("WARNING", "hm")])
    live = running_report(
        running,
        heartbeat=False,
        started_at=timezone.now() - timedelta(minutes=3),
        progress_done=3,
        progress_total=10,
    )
    Task.objects.filter(pk=running.pk).update(status=Task.STATUS_STARTED)

    rows = rows_by_name(admin_client.get(changelist_url()).content.decode())

    states = {
        name: re.search(r"eztm-state-(\w+)", cell(row, "state"))[1] for name, row in rows.items()
    }
    assert states == {
        idle.name: "idle",
        queued.name: "queued",
        scheduled.name: "scheduled",
        broken.name: "error",
        running.name: "running",
    }
    busy = cell(rows["busy"], "state")
    assert '<progress value="3" max="10"></progress> 30%' in busy
    # While it runs, the last run column leads to the live log of the run going on.
    last = cell(rows["busy"], "last_run")
    assert reverse("eztaskmanager:live_log_viewer", args=[live.pk]) in last
    assert "3\xa0minutes ago" in last
    # Otherwise to the log of the last finished run, with its result and when it ended.
    last = cell(rows["broken"], "last_run")
    assert reverse("eztaskmanager:log_viewer", args=[failed.pk]) in last
    assert "eztm-result-failed" in last and "just now" in last
    assert "never" in cell(rows["never run"], "last_run")
    assert "in 29\xa0minutes" in cell(rows["hourly"], "next_run")
    assert cell(rows["never run"], "next_run") == "-"
    assert "every hour" in cell(rows["hourly"], "next_run")  # the schedule in words under it


def test_long_arguments_are_shortened_with_the_full_text_on_hover(admin_client, make_task):
    arguments = ", ".join(f"--tag t{i}-<b>" for i in range(40))
    make_task("eztm_echo", arguments, name="many tags", note="a <i>note</i>")
    row = rows_by_name(admin_client.get(changelist_url()).content.decode())["many tags"]
    task = cell(row, "task")
    shown = re.search(r'<code class="eztm-invocation" title="([^"]*)">([^<]*)</code>', task)
    full = f"eztm_echo {arguments}".replace("<", "&lt;").replace(">", "&gt;")
    assert shown[1] == full
    assert shown[2].endswith("…") and len(shown[2]) < len(full)
    assert 'title="many tags\na &lt;i&gt;note&lt;/i&gt;"' in task
    assert "<b>" not in row and "<i>" not in row


def test_the_command_filter_lists_only_commands_tasks_use(admin_client, make_task, make_command):
    make_task("eztm_echo", name="echo")
    make_task("eztm_lines", "2", name="lines")
    unused = make_command("eztm_fail")
    body = admin_client.get(changelist_url()).content.decode()
    offered = set(re.findall(r"\?command__id__exact=(\d+)", body))
    used = set(AppCommand.objects.filter(task__isnull=False).values_list("pk", flat=True))
    assert offered == {str(pk) for pk in used} and len(offered) == 2
    assert str(unused.pk) not in offered


def test_the_list_costs_the_same_queries_with_runs_going_on(admin_client, make_task):
    def busy_tasks(n):
        for i in range(n):
            task = make_task("eztm_lines", "5", name=f"busy {n}-{i}")
            add_report(task, "ok", [("INFO", "x")])
            running_report(task, heartbeat=False, progress_done=1, progress_total=5)
            Task.objects.filter(pk=task.pk).update(status=Task.STATUS_STARTED)

    busy_tasks(3)
    few = count_queries(admin_client, changelist_url())
    busy_tasks(40)
    assert count_queries(admin_client, changelist_url()) == few
    body = admin_client.get(changelist_url()).content.decode()
    assert body.count("eztm-state-running") == 43
    assert body.count("/livelogviewer/") == 43
