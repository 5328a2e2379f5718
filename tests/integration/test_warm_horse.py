"""WarmTaskWorker's resident work horse, on a real worker and Redis: runs share one child,
which is replaced when a run kills it, after ``EZTASKMANAGER_HORSE_MAX_RUNS`` runs (3 in the
tests) and past ``EZTASKMANAGER_HORSE_MAX_MEMORY_MB``; nothing a run changes reaches the next.

One worker goes through all the steps (a worker's start costs more than a run)."""

import os
import signal

from eztaskmanager.models import LaunchReport
from tests.integration.conftest import WARM_TASK_WORKER_CLASS, rqworker, wait_for

# Past it after --grow 300, under it before (a horse starts well under 150 MB).
MEMORY_CEILING_MB = 250


def run(rq_service, make_task, arguments=""):
    task = make_task("eztm_horse", arguments)
    rq_service.launch(task)
    report = wait_for(
        lambda: LaunchReport.objects.filter(task=task).exclude(invocation_result="").first(),
        what=f"the run of eztm_horse {arguments}",
    )
    lines = list(report.logs.order_by("lineno").values_list("message", flat=True))
    pid = next((int(line[4:]) for line in lines if line.startswith("pid=")), None)
    state = next((line for line in lines if line.startswith("language=")), None)
    return report, pid, state


def connections_opened(report) -> int:
    """How many database connections the run's process had opened when the command began."""
    line = report.logs.filter(message__startswith="connection=").values_list("message", flat=True)
    return int(line.get()[len("connection=") :])


def test_one_horse_runs_run_after_run_until_it_is_replaced(
    processes, rq_service, make_task, monkeypatch
):
    monkeypatch.setenv("EZTM_HORSE_MAX_MEMORY_MB", str(MEMORY_CEILING_MB))
    processes.start(*rqworker(WARM_TASK_WORKER_CLASS))

    first, pid, state = run(rq_service, make_task)
    assert first.invocation_result == "warnings"
    # A run that changes its process's language, time zone, root handlers and argv, and
    # meets a database error...
    leaky, leaky_pid, _ = run(rq_service, make_task, "--leak --db-error")
    assert (leaky.invocation_result, leaky_pid) == ("warnings", pid)
    # ... ran on the connection the first run left open (the horse keeps it between runs)...
    assert connections_opened(leaky) == connections_opened(first)
    # ... and leaves nothing behind for the next run, in the same horse (its third: it
    # retires): the connection that saw the error was closed, the next run opened another.
    third, third_pid, third_state = run(rq_service, make_task)
    assert (third.invocation_result, third_pid, third_state) == ("warnings", pid, state)
    assert connections_opened(third) == connections_opened(leaky) + 1

    # After 3 runs (EZTASKMANAGER_HORSE_MAX_RUNS in the tests) a new horse.
    fourth, second_horse, _ = run(rq_service, make_task)
    assert fourth.invocation_result == "warnings"
    assert second_horse != pid

    # A command that ends its process costs its run and its horse, not the next run.
    exited, _, _ = run(rq_service, make_task, "--exit 3")
    assert (exited.invocation_result, exited.failure_reason) == ("failed", "worker died")
    after_exit, third_horse, after_state = run(rq_service, make_task)
    assert after_exit.invocation_result == "warnings"
    assert third_horse not in (pid, second_horse)
    assert after_state == state

    # A horse grown past the memory ceiling is replaced after its run.
    grown, grown_pid, _ = run(rq_service, make_task, "--grow 300")
    assert (grown.invocation_result, grown_pid) == ("warnings", third_horse)
    after_growth, fourth_horse, _ = run(rq_service, make_task)
    assert after_growth.invocation_result == "warnings"
    assert fourth_horse not in (pid, second_horse, third_horse)

    # A horse killed while idle costs no run: the next one gets a new horse.
    os.kill(fourth_horse, signal.SIGKILL)
    after_kill, fifth_horse, _ = run(rq_service, make_task)
    assert after_kill.invocation_result == "warnings"
    assert fifth_horse != fourth_horse
