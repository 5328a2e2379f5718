"""On a real rqworker: a launch, a retry and a scheduled firing run what was launched, whatever
the task says by the time the worker takes them."""

from eztaskmanager import operations
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.records import launches
from eztaskmanager.scheduler.process import record_firing
from tests.integration.conftest import manage


def messages(report: LaunchReport) -> list[str]:
    return list(report.logs.order_by("lineno").values_list("message", flat=True))


def burst():
    drained = manage("rqworker", "--burst", "default")
    assert drained.returncode == 0, drained.stderr


def test_a_worker_runs_what_was_launched(processes, rq_service, make_task, make_command):
    backend = rq_service.backend
    launched = make_task("eztm_echo", "as launched", name="launched")
    retried = make_task(
        "eztm_fail", "--how commanderror", name="retried", max_retries=1, retry_delays="600"
    )
    fired = make_task("eztm_echo", "at the firing", name="fired", cron_expression="0 3 * * *")
    operations.launch(launched, backend)
    operations.launch(retried, backend)
    backend.enqueue(record_firing(fired.pk, backend))  # what the scheduler does at a firing
    # Before any worker takes them, somebody changes what the tasks run.
    lines = make_command("eztm_lines")
    Task.objects.filter(pk=launched.pk).update(command=lines, arguments="4")
    Task.objects.filter(pk=fired.pk).update(arguments="edited")

    burst()
    [run] = LaunchReport.objects.filter(task=launched)
    assert run.invocation_result == "warnings" and "items=['as', 'launched']" in messages(run)
    assert not any(m.startswith("line ") for m in messages(run))
    [run] = LaunchReport.objects.filter(task=fired)
    assert "items=['at', 'the', 'firing']" in messages(run)
    first, retry = LaunchReport.objects.filter(task=retried).order_by("pk")
    assert first.invocation_result == "failed" and retry.is_queued  # due in 10 minutes

    # The retry waits; the task is changed to another command with more retries.
    Task.objects.filter(pk=retried.pk).update(
        command=make_command("eztm_echo"), arguments="edited", max_retries=5
    )
    backend.enqueue(launches.job_of(retry))  # due now (as the sweep would send it again)
    burst()
    retry.refresh_from_db()
    assert retry.invocation_result == "failed" and "about to fail" in messages(retry)
    assert not any(m.startswith("items=") for m in messages(retry))
    assert retry.command_name == "eztm_fail" and retry.max_attempts == 2
    assert LaunchReport.objects.filter(task=retried).count() == 2
