"""Follow-up tasks: launched on the chosen results only, linked to their trigger, no cycles."""

from __future__ import annotations

import pytest
from django.urls import reverse

from eztaskmanager import operations
from eztaskmanager.models import FollowUp, LaunchReport, Task
from eztaskmanager.operations import audit
from eztaskmanager.operations.followups import cycle_through
from eztaskmanager.runs import close_run
from tests.admin.test_admin import LAUNCHER, change_url, fake_queue, form_data, staff_client
from tests.factories import running_report

pytestmark = pytest.mark.django_db
__all__ = ["fake_queue", "staff_client"]  # fixtures used here


@pytest.fixture
def immediate(settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"


def follow(task, then, results="ok") -> FollowUp:
    return FollowUp.objects.create(task=task, then=then, results=results)


def reports_of(task) -> list[LaunchReport]:
    return list(LaunchReport.objects.filter(task=task).order_by("pk"))


def test_a_chain_runs_on_the_matching_results_only(make_task, immediate):
    first = make_task("eztm_lines", "1", name="first")
    on_ok = make_task("eztm_lines", "1, --level warning", name="on ok")
    on_failure = make_task("eztm_lines", "1", name="on failure")
    after_warnings = make_task("eztm_lines", "1", name="after warnings")
    follow(first, on_ok, "ok")
    follow(first, on_failure, "errors, failed")
    follow(on_ok, after_warnings, "warnings")

    report = operations.launch(first).report

    [ok_run] = reports_of(on_ok)
    [warnings_run] = reports_of(after_warnings)
    assert reports_of(on_failure) == []
    assert ok_run.triggered_by_id == report.pk and ok_run.invocation_result == "warnings"
    assert warnings_run.triggered_by_id == ok_run.pk
    assert "Follow-up task 'on ok' launched." in report.logs.values_list("message", flat=True)
    [entry] = audit.history(on_ok)
    assert entry.user.username == "eztaskmanager-follow-up"
    assert entry.change_message == f"Launched as a follow-up of run {report.pk}"


def test_a_failed_run_launches_the_failure_follow_up(make_task, immediate):
    first = make_task("eztm_lines", "2, --fail-at 1", name="first")
    on_ok = make_task("eztm_lines", "1", name="on ok")
    on_failure = make_task("eztm_lines", "1", name="on failure")
    follow(first, on_ok, "ok, warnings")
    follow(first, on_failure, "failed")
    report = operations.launch(first).report
    assert report.invocation_result == "failed"
    assert [r.triggered_by_id for r in reports_of(on_failure)] == [report.pk]
    assert reports_of(on_ok) == []


def test_a_failure_still_retried_launches_nothing_until_its_last_attempt(make_task, immediate):
    first = make_task("eztm_lines", "2, --fail-at 1", max_retries=2, retry_delays="0")
    on_failure = make_task("eztm_lines", "1", name="on failure")
    follow(first, on_failure, "failed")
    operations.launch(first)
    attempts = reports_of(first)
    assert [r.attempt for r in attempts] == [1, 2, 3]
    assert [r.triggered_by_id for r in reports_of(on_failure)] == [attempts[-1].pk]


def test_on_a_queue_the_follow_up_is_a_job_that_carries_its_trigger(
    make_task, fake_queue, committed
):
    first = make_task("eztm_lines", "1", name="first")
    then = make_task("eztm_lines", "1", name="then")
    follow(first, then)
    operations.launch(first, fake_queue, defer=False)
    # The launch queued the first task's job; a worker runs it, which queues the follow-up.
    [job] = fake_queue.queue.jobs
    fake_queue.queue.remove(job)
    with committed():
        report = job.func(*job.args, **job.kwargs)
    assert report.task_id == first.pk and report.invocation_result == "ok"
    [follow_up_job] = fake_queue.queue.jobs
    queued = LaunchReport.objects.get(pk=follow_up_job.kwargs["report_id"])  # a durable launch
    assert follow_up_job.kwargs == {"report_id": queued.pk, "triggered_by": report.pk}
    assert queued.is_queued and queued.triggered_by_id == report.pk
    assert Task.objects.get(pk=then.pk).status == Task.STATUS_SPOOLED
    follow_up_report = follow_up_job.func(*follow_up_job.args, **follow_up_job.kwargs)
    assert follow_up_report.pk == queued.pk and follow_up_report.triggered_by_id == report.pk


def test_a_run_closed_from_outside_launches_its_failure_follow_ups(make_task, immediate):
    first = make_task("eztm_lines", "1", name="first")
    on_failure = make_task("eztm_lines", "1", name="on failure")
    follow(first, on_failure, "failed")
    running = running_report(first, heartbeat=False)
    assert close_run(running, "worker died", retry=False)
    assert [r.triggered_by_id for r in reports_of(on_failure)] == [running.pk]


def test_a_follow_up_that_cannot_launch_is_a_warning_on_the_trigger(make_task, immediate):
    first = make_task("eztm_lines", "1", name="first")
    refused = make_task("eztm_plain", name="refused")
    follow(first, refused)
    refused.command.name, refused.command.app_name = "dumpdata", "django.core"
    refused.command.save()
    report = operations.launch(first).report
    report.refresh_from_db()
    [warning] = report.logs.filter(level="WARNING").values_list("message", flat=True)
    assert warning.startswith("Follow-up task 'refused' not launched: command not allowed")
    assert report.invocation_result == "ok" and report.n_warnings == 0


def test_a_pruned_trigger_leaves_the_follow_up_without_a_link(make_task, immediate):
    from eztaskmanager.services import run_management_command

    task = make_task("eztm_lines", "1")
    assert run_management_command(task.pk, triggered_by=987654).triggered_by_id is None


# -- cycles ------------------------------------------------------------------------------------


def test_cycle_through_names_the_cycle(make_task):
    a, b, c = (make_task(name=name) for name in "abc")
    follow(b, c)
    follow(c, a)
    assert cycle_through(a.pk, [b.pk]) == [a.pk, b.pk, c.pk, a.pk]
    assert cycle_through(a.pk, [a.pk]) == [a.pk, a.pk]
    assert cycle_through(a.pk, [c.pk]) == [a.pk, c.pk, a.pk]
    assert cycle_through(b.pk, []) is None
    follow(a, b)
    assert cycle_through(c.pk, []) is None  # c's own follow-ups replaced by none


def follow_up_data(client, task, rows, **changes) -> dict:
    data = form_data(client, change_url(task), **changes)
    data.update(
        {
            "follow_ups-TOTAL_FORMS": str(len(rows)),
            "follow_ups-INITIAL_FORMS": "0",
            "follow_ups-MIN_NUM_FORMS": "0",
            "follow_ups-MAX_NUM_FORMS": "1000",
        }
    )
    for index, (then, results) in enumerate(rows):
        data[f"follow_ups-{index}-then"] = str(then.pk)
        data[f"follow_ups-{index}-results"] = results
    return data


def test_the_admin_saves_follow_ups_and_refuses_a_cycle(admin_client, make_task):
    a = make_task(name="Import")
    b = make_task(name="Report")
    c = make_task(name="<Cleanup>")
    follow(b, c)
    follow(c, a)

    data = follow_up_data(admin_client, a, [(b, "ok")])
    response = admin_client.post(change_url(a), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "Follow-up tasks may not form a cycle: “Import” → “Report” → “&lt;Cleanup&gt;” → “Import”."
    ) in body
    assert not FollowUp.objects.filter(task=a).exists()

    response = admin_client.post(change_url(a), follow_up_data(admin_client, a, [(a, "ok")]))
    assert "may not form a cycle: “Import” → “Import”." in response.content.decode()

    FollowUp.objects.filter(task=c).delete()
    data = follow_up_data(admin_client, a, [(b, "failed,ok")])
    assert admin_client.post(change_url(a), data).status_code == 302
    [saved] = FollowUp.objects.filter(task=a)
    assert (saved.then_id, saved.results) == (b.pk, "ok, failed")


def test_the_admin_refuses_unknown_results(admin_client, make_task):
    a, b = make_task(name="a"), make_task(name="b")
    response = admin_client.post(change_url(a), follow_up_data(admin_client, a, [(b, "great")]))
    assert response.status_code == 200
    assert "Choose results among ok, warnings, errors, failed" in response.content.decode()


def test_the_task_page_shows_its_follow_ups(admin_client, make_task):
    a, b = make_task(name="a"), make_task(name="the next one")
    follow(a, b, "warnings")
    body = admin_client.get(change_url(a)).content.decode()
    assert "Follow-up tasks: launched when a run of this task ends" in body
    assert 'name="follow_ups-0-results" value="warnings"' in body


def test_editing_follow_ups_takes_the_launch_permission(staff_client, make_task):
    from tests.admin.test_admin import EDITOR

    a, b = make_task(name="a"), make_task(name="b")
    follow(a, b)
    editor = staff_client(*EDITOR)
    body = editor.get(change_url(a)).content.decode()
    assert 'name="follow_ups-0-results"' not in body  # shown read-only
    # A POST that adds one anyway changes nothing.
    data = follow_up_data(editor, a, [(a, "ok")], note="edited")
    assert editor.post(change_url(a), data).status_code == 302
    assert list(FollowUp.objects.values_list("task_id", "then_id")) == [(a.pk, b.pk)]
    launcher = staff_client(*LAUNCHER)
    assert 'name="follow_ups-0-results"' in launcher.get(change_url(a)).content.decode()


def test_the_follow_up_report_links_to_its_trigger(admin_client, make_task, immediate):
    first = make_task("eztm_lines", "1", name="first")
    then = make_task("eztm_lines", "1", name="then")
    follow(first, then)
    trigger = operations.launch(first).report
    [report] = reports_of(then)
    page = admin_client.get(reverse("admin:eztaskmanager_launchreport_change", args=[report.pk]))
    link = reverse("admin:eztaskmanager_launchreport_change", args=[trigger.pk])
    assert f'<a href="{link}">#{trigger.pk}</a>' in page.content.decode()
    viewer = admin_client.get(reverse("eztaskmanager:log_viewer", args=[report.pk]))
    link = reverse("eztaskmanager:log_viewer", args=[trigger.pk])
    assert f'<a href="{link}">run {trigger.pk} of first</a>' in viewer.content.decode()


def test_a_follow_up_changed_without_the_launch_permission_waits_for_approval(
    staff_client, make_task, immediate
):
    from tests.admin.test_admin import EDITOR

    first = make_task("eztm_lines", "1", name="first")
    then = make_task("eztm_echo", "safe", name="then")
    follow(first, then)
    editor = staff_client(*EDITOR)
    data = form_data(editor, change_url(then), arguments="changed by an editor")
    assert editor.post(change_url(then), data).status_code == 302

    report = operations.launch(first).report
    assert reports_of(then) == []
    [warning] = report.logs.filter(level="WARNING").values_list("message", flat=True)
    assert warning.startswith("Follow-up task 'then' not launched: its command or arguments")
    assert "'staff0', who may not launch tasks" in warning

    launcher = staff_client(*LAUNCHER)  # saving it unchanged approves what it runs
    assert launcher.post(change_url(then), form_data(launcher, change_url(then))).status_code == 302
    report = operations.launch(first).report
    [run] = reports_of(then)
    assert run.triggered_by_id == report.pk
    assert "items=['changed', 'by', 'an', 'editor']" in run.logs.values_list("message", flat=True)
