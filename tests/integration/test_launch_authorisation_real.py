"""On a real rqworker: a launch, a retry and a scheduled firing run what was launched, whatever
the task says by the time the worker takes them."""

from eztaskmanager import operations
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.records import launches
from eztaskmanager.scheduler.process import record_firing
from tests.integration.conftest import in_both_worker_modes, manage, rqworker


def messages(report: LaunchReport) -> list[str]:
    return list(report.logs.order_by("lineno").values_list("message", flat=True))


def burst(worker_class: str):
    drained = manage(*rqworker(worker_class), "--burst")
    assert drained.returncode == 0, drained.stderr


@in_both_worker_modes
def test_a_worker_runs_what_was_launched(
    processes, rq_service, make_task, make_command, worker_class
):
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

    burst(worker_class)
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
    burst(worker_class)
    retry.refresh_from_db()
    assert retry.invocation_result == "failed" and "about to fail" in messages(retry)
    assert not any(m.startswith("items=") for m in messages(retry))
    assert retry.command_name == "eztm_fail" and retry.max_attempts == 2
    assert LaunchReport.objects.filter(task=retried).count() == 2


@in_both_worker_modes
def test_a_worker_refuses_a_forged_launch_of_a_denied_command(
    processes, rq_service, make_task, worker_class
):
    """A queued launch edited in the database to name a denied command (``flush``) is refused
    by the worker's own check of the policy: nothing runs, the report says why."""
    task = make_task("eztm_echo", "harmless", name="forged")
    operations.launch(task, rq_service.backend)
    LaunchReport.objects.filter(task=task).update(command=None, command_name="flush")
    following = make_task("eztm_echo", "after", name="after the refusal")
    operations.launch(following, rq_service.backend)

    burst(worker_class)
    [refused] = LaunchReport.objects.filter(task=task)
    assert refused.invocation_result == "failed"
    assert refused.failure_reason == "command not allowed: flush"
    assert refused.ending == "refused"
    assert not any(m.startswith("items=") for m in messages(refused))
    # The worker (and a resident horse) goes on with the next launch.
    [after] = LaunchReport.objects.filter(task=following)
    assert after.invocation_result == "warnings" and "items=['after']" in messages(after)
