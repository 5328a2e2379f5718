"""Log views: access rules, escaping, incremental reads, 0.5.x offset reads, download."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eztaskmanager.models import LaunchReport, Log
from eztaskmanager.services import run_management_command
from eztaskmanager.web import views
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "secret-log-line-7f3a"
XSS = '<script>alert("eztm")</script>'
VIEW_NAMES = ("log_viewer", "live_log_viewer", "ajax_read_log_lines", "download_log")


def make_report(task, lines, result="ok", **fields) -> LaunchReport:
    """A report whose log holds ``lines`` (level, message), numbered from 1."""
    report = factories.make_report(
        task, invocation_result=result, started_at=timezone.now(), **fields
    )
    factories.make_lines(report, *lines)
    return report


def numbered(n, level="INFO"):
    return [(level, f"line {i}") for i in range(1, n + 1)]


@pytest.fixture
def report(make_task):
    return make_report(make_task(name="logged"), [("INFO", "first"), ("WARNING", SECRET)])


@pytest.fixture
def viewer(db):
    """A staff user with the view permission on reports, logged in."""
    return factories.client_for(
        factories.make_staff("view_launchreport", username="viewer", password="x")
    )


def url(name, report, **query):
    address = reverse(f"eztaskmanager:{name}", args=[report.pk])
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return address


def body_of(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


def read(client, report, **query) -> dict:
    response = client.get(url("ajax_read_log_lines", report, **query))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


# -- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_anonymous_is_sent_to_the_admin_login(client, report, name):
    response = client.get(url(name, report))
    assert response.status_code == 302
    login = reverse("admin:login")
    assert response["Location"].startswith(f"{login}?next=")
    assert SECRET.encode() not in body_of(response)


@pytest.mark.parametrize("name", VIEW_NAMES)
@pytest.mark.parametrize(
    "is_staff, codenames",
    [
        (False, ["view_launchreport"]),  # the permission without staff status
        (False, []),
        (True, []),  # staff without the view permission
        (True, ["view_task", "change_task", "launch_task"]),
    ],
)
def test_others_get_403_without_log_content(report, name, is_staff, codenames):
    user = factories.make_user("someone", *codenames, password="x", is_staff=is_staff)
    client = factories.client_for(user)
    response = client.get(url(name, report))
    assert response.status_code == 403
    assert SECRET.encode() not in body_of(response)


def test_inactive_staff_gets_no_log(report, viewer):
    User.objects.filter(username="viewer").update(is_active=False)
    response = viewer.get(url("ajax_read_log_lines", report))
    assert response.status_code in (302, 403)
    assert SECRET.encode() not in body_of(response)


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_staff_with_view_permission_reads_the_log(viewer, report, name):
    response = viewer.get(url(name, report))
    assert response.status_code == 200
    if name != "live_log_viewer":  # the live viewer fetches its lines afterwards
        assert SECRET.encode() in body_of(response)


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_views_only_answer_get(viewer, report, name):
    assert viewer.post(url(name, report)).status_code == 405


def test_missing_report_is_404_only_for_allowed_users(viewer, client):
    missing = LaunchReport(pk=999999)
    assert viewer.get(url("log_viewer", missing)).status_code == 404
    assert client.get(url("log_viewer", missing)).status_code == 302


# -- escaping ----------------------------------------------------------------------------------


def test_log_and_task_text_is_escaped_in_every_view(viewer, make_task):
    task = make_task("eztm_echo", f"'{XSS}'", name=XSS, note=XSS)
    report = make_report(task, [("ERROR", XSS), ("INFO", "fine")], failure_reason=XSS)
    for name in ("log_viewer", "live_log_viewer"):
        body = viewer.get(url(name, report)).content.decode()
        assert XSS not in body, name
        assert "&lt;script&gt;alert(&quot;eztm&quot;)&lt;/script&gt;" in body, name
    raw = viewer.get(url("ajax_read_log_lines", report, before="end")).content.decode()
    assert "<" not in raw and ">" not in raw
    assert json.loads(raw)["lines"][0]["message"] == XSS
    legacy = viewer.get(url("ajax_read_log_lines", report, offset=0)).content.decode()
    assert "<" not in legacy and XSS in json.loads(legacy)["new_log_lines"][0]


def test_download_is_an_attachment_never_rendered(viewer, make_task):
    report = make_report(make_task(name=XSS), [("ERROR", XSS)])
    response = viewer.get(url("download_log", report))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="scriptalerteztmscript-run-{report.pk}.log"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"


# -- incremental reads -------------------------------------------------------------------------


def test_after_returns_only_newer_lines(viewer, make_task):
    report = make_report(make_task(), numbered(50))
    data = read(viewer, report, after=45)
    assert [line["n"] for line in data["lines"]] == [46, 47, 48, 49, 50]
    assert [line["message"] for line in data["lines"]][0] == "line 46"
    assert data["last"] == 50 and data["more_after"] is False
    assert read(viewer, report, after=50)["lines"] == []


def test_a_growing_log_is_read_without_gaps_or_repeats(viewer, make_task):
    report = make_report(make_task(), numbered(3), result="")
    seen = []
    data = read(viewer, report, before="end")
    seen += [line["n"] for line in data["lines"]]
    for more in (2, 0, 5):
        factories.make_lines(report, *["x"] * more)
        data = read(viewer, report, after=data["last"])
        seen += [line["n"] for line in data["lines"]]
    assert seen == list(range(1, 11))


def test_lines_not_yet_counted_wait_for_the_next_poll(viewer, make_task):
    """Lines beyond the report's counter are still being written: they come next time."""
    report = make_report(make_task(), numbered(5), result="")
    Log.objects.create(launch_report=report, level="INFO", message="early", lineno=6)
    data = read(viewer, report, after=0)
    assert data["last"] == 5 and len(data["lines"]) == 5


def test_pages_are_bounded(viewer, make_task):
    report = make_report(make_task(), numbered(2500))
    first = read(viewer, report)
    assert len(first["lines"]) == views.PAGE_SIZE
    assert first["last"] == views.PAGE_SIZE and first["more_after"] is True
    second = read(viewer, report, after=first["last"])
    assert second["lines"][0]["n"] == views.PAGE_SIZE + 1
    tail = read(viewer, report, before="end")
    assert [tail["lines"][0]["n"], tail["lines"][-1]["n"]] == [1501, 2500]
    assert tail["first"] == 1501 and tail["more_before"] is True
    earlier = read(viewer, report, before=tail["first"], limit=10)
    assert [line["n"] for line in earlier["lines"]] == list(range(1491, 1501))
    assert len(read(viewer, report, limit=100000)["lines"]) == views.PAGE_SIZE


def test_state_counts_and_progress(viewer, make_task):
    report = make_report(
        make_task(name="half way"),
        [("INFO", "a"), ("WARNING", "b"), ("ERROR", "c")],
        result="",
        progress_done=30,
        progress_total=120,
    )
    state = read(viewer, report, after=3)["report"]
    assert state["finished"] is False and state["result"] == ""
    assert (state["n_lines"], state["n_warnings"], state["n_errors"]) == (3, 1, 1)
    assert (state["progress_done"], state["progress_total"]) == (30, 120)
    assert state["progress_percent"] == 25.0
    assert state["task_status"] == "idle"


def test_level_filter_and_search(viewer, make_task):
    lines = numbered(20)
    lines[4] = ("WARNING", "disk almost full")
    lines[9] = ("ERROR", "disk full")
    lines[14] = ("CRITICAL", "gave up")
    report = make_report(make_task(), lines)
    warnings = read(viewer, report, level="warnings")
    assert [line["n"] for line in warnings["lines"]] == [5, 10, 15]
    errors = read(viewer, report, level="errors", before="end")
    assert [line["message"] for line in errors["lines"]] == ["disk full", "gave up"]
    found = read(viewer, report, q="DISK")
    assert [line["n"] for line in found["lines"]] == [5, 10]
    assert found["last"] == 20  # the client goes on from the end of what was searched
    both = read(viewer, report, q="disk", level="errors")
    assert [line["n"] for line in both["lines"]] == [10]


def test_search_reads_a_bounded_window_per_request(viewer, make_task, monkeypatch):
    monkeypatch.setattr(views, "SEARCH_WINDOW", 100)
    lines = numbered(350)
    lines[299] = ("INFO", "needle")
    report = make_report(make_task(), lines)
    data, found, requests = {"last": 0, "more_after": True}, [], 0
    while data["more_after"]:
        data = read(viewer, report, q="needle", after=data["last"])
        found += [line["n"] for line in data["lines"]]
        requests += 1
    assert found == [300] and requests == 4


def test_a_poll_costs_the_same_on_a_short_and_a_long_log(viewer, make_task):
    short = make_report(make_task(name="short"), numbered(20), result="")
    long = make_report(make_task(name="long"), numbered(20000), result="")
    counts, sizes = [], []
    for report in (short, long):
        viewer.get(url("ajax_read_log_lines", report, after=report.n_lines - 2))  # warm up
        with CaptureQueriesContext(connection) as queries:
            data = read(viewer, report, after=report.n_lines - 2)
        counts.append(len(queries))
        sizes.append(len(data["lines"]))
        lines_sql = [q["sql"] for q in queries if "eztaskmanager_log" in q["sql"]]
        assert len(lines_sql) == 1 and "LIMIT" in lines_sql[0]
        assert '"lineno" > ' in lines_sql[0] and '"lineno" <= ' in lines_sql[0]
    assert counts[0] == counts[1]
    assert sizes == [2, 2]


# -- 0.5.x compatibility -----------------------------------------------------------------------


def test_offset_parameter_keeps_the_050_answer(viewer, make_task):
    task = make_task(name="legacy")
    report = make_report(task, numbered(5))
    data = read(viewer, report, offset=3)
    assert set(data) == {"new_log_lines", "task_status", "log_size"}
    assert data["log_size"] == 5
    assert data["task_status"] == "idle"
    assert [line.split(" - ")[1:] for line in data["new_log_lines"]] == [
        ["INFO", "line 4"],
        ["INFO", "line 5"],
    ]
    assert read(viewer, report, offset=5) == {
        "new_log_lines": [],
        "task_status": "idle",
        "log_size": 5,
    }


def test_offset_client_catches_up_on_a_long_log(viewer, make_task):
    """A 0.5.x client sets offset = log_size each time: bounded pages must not skip lines."""
    report = make_report(make_task(), numbered(2300))
    offset, received = 0, 0
    for _ in range(5):
        data = read(viewer, report, offset=offset)
        received += len(data["new_log_lines"])
        offset = data["log_size"]
    assert received == 2300 and offset == 2300


# -- pages -------------------------------------------------------------------------------------


def test_paged_viewer(viewer, make_task):
    lines = numbered(1500)
    lines[1199] = ("ERROR", "the one error")
    report = make_report(make_task(name="paged"), lines)
    first = viewer.get(url("log_viewer", report)).content.decode()
    assert "line 1000<" in first and "line 1001<" not in first
    assert "?after=1000" in first
    last = viewer.get(url("log_viewer", report, before="end")).content.decode()
    assert "line 1500<" in last and "line 500<" not in last and "line 501<" in last
    errors = viewer.get(url("log_viewer", report, level="errors")).content.decode()
    assert "the one error" in errors and "line 1<" not in errors
    legacy = viewer.get(url("log_viewer", report, log_level="error")).content.decode()
    assert "the one error" in legacy and "line 1<" not in legacy


def test_live_viewer_page(viewer, make_task):
    report = make_report(make_task(name="live"), numbered(3), result="", progress_done=1)
    body = viewer.get(url("live_log_viewer", report)).content.decode()
    assert f'data-lines-url="{url("ajax_read_log_lines", report)}"' in body
    assert "eztaskmanager/live_log.js" in body
    assert 'id="eztm-live-text"' in body
    assert "line 1" not in body


@pytest.mark.redis  # the run takes its lock in the real Redis
def test_download_streams_the_whole_log(viewer, make_task):
    task = make_task("eztm_lines", "4500, --verbosity 2", name="Big Export")
    report = run_management_command(task.pk)
    response = viewer.get(url("download_log", report))
    assert isinstance(response, StreamingHttpResponse)
    assert (
        response["Content-Disposition"] == f'attachment; filename="big-export-run-{report.pk}.log"'
    )
    text = body_of(response).decode()
    lines = text.splitlines()
    assert len(lines) == 4500
    assert lines[0].endswith(" - INFO - line 1 of 4500")
    assert lines[-1].endswith(" - INFO - line 4500 of 4500")
