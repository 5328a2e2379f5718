"""A warmed ``TaskWorker``: its horses run tasks, old and new, and store a small job result."""

from eztaskmanager.models import LaunchReport
from tests.integration.conftest import wait_for

TASK_WORKER = ("rqworker", "--worker-class", "eztaskmanager.worker.TaskWorker", "default")


def finished_report(task):
    return LaunchReport.objects.filter(task=task).exclude(invocation_result="").first()


def test_warm_worker_runs_tasks_added_after_its_warm_up(processes, rq_service, make_task):
    known = make_task("eztm_echo", "hello")
    worker = processes.start(*TASK_WORKER)
    rq_service.launch(known)
    first = wait_for(lambda: finished_report(known), what="the first run")
    assert first.invocation_result == "warnings", processes.output(worker)  # it logs warnings

    # A command no task ran when the worker warmed up: its horse imports it, as before.
    added = make_task("eztm_lines", "3, --verbosity 2")
    rq_service.launch(added)
    rq_service.launch(known)
    second = wait_for(lambda: finished_report(added), what="the new task's run")
    assert second.invocation_result == "ok", processes.output(worker)
    assert list(second.logs.order_by("lineno").values_list("message", flat=True)) == [
        "line 1 of 3",
        "line 2 of 3",
        "line 3 of 3",
    ]
    wait_for(
        lambda: LaunchReport.objects.filter(task=known, invocation_result="warnings").count() == 2,
        what="the second run of the first task",
    )

    # The job's stored result is the report's id, not the pickled report. The worker stores it
    # after the horse has written the report's outcome: wait for each job to be finished.
    for report in LaunchReport.objects.all():
        job = rq_service.queue.fetch_job(report.rq_job_id)
        wait_for(
            lambda job=job: job.get_status(refresh=True) == "finished",
            what=f"job {job.id} finished",
        )
        assert job.return_value(refresh=True) == report.pk
