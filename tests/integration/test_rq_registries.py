"""RQ's registries agree with the reports: a failed run's job is an RQ failure, a stopped run's
job is not (rq 2.0 and 3.0)."""

from __future__ import annotations

from rq.job import Job, JobStatus

from eztaskmanager.models import LaunchReport
from tests.integration.conftest import manage, wait_for

TASK_WORKER = ("rqworker", "--worker-class", "eztaskmanager.worker.TaskWorker")


def test_a_failed_run_ends_its_job_failed_and_an_ok_run_finished(processes, rq_service, make_task):
    failing = make_task("eztm_fail", "--how commanderror", name="failing")
    fine = make_task("eztm_lines", "2", name="fine")
    rq_service.launch(failing)
    rq_service.launch(fine)

    drained = manage(*TASK_WORKER, "--burst", "default")
    assert drained.returncode == 0, drained.stderr

    bad = LaunchReport.objects.get(task=failing)
    good = LaunchReport.objects.get(task=fine)
    assert bad.invocation_result == "failed"
    assert bad.failure_reason == "CommandError: bad input given"
    queue = rq_service.queue
    assert bad.rq_job_id in queue.failed_job_registry.get_job_ids()
    assert bad.rq_job_id not in queue.finished_job_registry.get_job_ids()
    assert good.rq_job_id in queue.finished_job_registry.get_job_ids()
    assert good.rq_job_id not in queue.failed_job_registry.get_job_ids()
    # The worker log says the run failed and why, with no "Job OK" for it.
    output = drained.stdout + drained.stderr
    assert f"run {bad.pk} of task {failing.pk} failed: CommandError: bad input given" in output
    ok_lines = [line for line in output.splitlines() if "Job OK" in line]
    assert not any(bad.rq_job_id in line for line in ok_lines)


def test_a_stopped_run_is_no_rq_failure(processes, rq_service, make_task):
    task = make_task("eztm_sleep", "60")
    rq_service.launch(task)
    processes.start(*TASK_WORKER, "default")
    wait_for(
        lambda: LaunchReport.objects.filter(task=task, invocation_result="", n_lines__gt=0).first(),
        what="the run to start and log",
    )
    assert rq_service.stop(task, by="tester") == 1
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what="the run to end",
    )
    assert report.failure_reason == "stopped by tester"
    queue = rq_service.queue
    job = Job.fetch(report.rq_job_id, connection=queue.connection)
    # The worker files it, then takes it back out of the failed registry.
    wait_for(
        lambda: (
            job.get_status() == JobStatus.STOPPED
            and job.id not in queue.failed_job_registry.get_job_ids()
        ),
        what="the job to be stopped, not failed",
    )
    assert job.id not in queue.finished_job_registry.get_job_ids()
    assert queue.failed_job_registry.count == 0
