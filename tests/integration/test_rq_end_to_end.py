"""A task launched through the service runs on a real rqworker; a point schedule on rqscheduler."""

from datetime import timedelta

from django.utils import timezone

from eztaskmanager.models import LaunchReport, Task
from tests.integration.conftest import manage, wait_for


def test_launch_runs_on_a_real_worker(processes, rq_service, make_task):
    task = make_task("eztm_lines", "50, --level warning, --fail-at 0")
    failing = make_task("eztm_fail", "--how commanderror", name="failing")
    rq_service.launch(task)
    rq_service.launch(failing)
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_SPOOLED

    drained = manage("rqworker", "--burst", "default")
    assert drained.returncode == 0, drained.stderr

    report = LaunchReport.objects.get(task=task)
    assert report.invocation_result == "warnings"
    assert (report.n_lines, report.n_warnings, report.n_errors) == (50, 50, 0)
    messages = list(report.logs.order_by("lineno").values_list("message", flat=True))
    assert messages == [f"line {i} of 50" for i in range(1, 51)]
    assert report.rq_job_id.startswith(f"eztm-{task.pk}-")
    assert report.finished_at >= report.started_at
    task.refresh_from_db()
    assert (task.status, task.cached_last_invocation_result) == ("idle", "warnings")

    bad = LaunchReport.objects.get(task=failing)
    assert bad.invocation_result == "failed"
    assert bad.failure_reason == "CommandError: bad input given"
    assert rq_service.queue.count == 0


def test_point_schedule_runs_on_real_scheduler(processes, rq_service, make_task):
    due = timezone.now() + timedelta(seconds=4)
    task = make_task("eztm_lines", "2, --level warning", scheduling=due)
    rq_service.add(task)
    assert Task.objects.get(pk=task.pk).status == Task.STATUS_SCHEDULED

    processes.start("rqscheduler", "--interval", "1")
    worker = processes.start("rqworker", "default")
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="the scheduled run",
    )
    assert report.invocation_result == "warnings", processes.output(worker)
    # The report was started by the schedule, not before it was due.
    assert report.started_at >= due - timedelta(seconds=1)
    task.refresh_from_db()
    assert (task.status, task.scheduled_job_id, task.cached_next_ride) == ("idle", None, None)
