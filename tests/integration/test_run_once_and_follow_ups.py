"""On a real rqworker: a run with other arguments, the follow-up it triggers, and an old job."""

from rq import Queue

from eztaskmanager import operations
from eztaskmanager.models import FollowUp, LaunchReport
from tests.integration.conftest import manage


def test_a_worker_runs_one_off_arguments_then_the_follow_up(processes, rq_service, make_task):
    first = make_task("eztm_echo", "own", name="first")
    then = make_task("eztm_lines", "2", name="then")
    FollowUp.objects.create(task=first, then=then, results="warnings")
    operations.launch(first, rq_service.backend, arguments="given, --count 4")
    # A job queued by 0.6.0 (no arguments nor trigger keyword) still runs the task as it is.
    Queue("default", connection=rq_service.connection).enqueue(
        "eztaskmanager.services.run_management_command", first.pk, job_id=f"eztm-{first.pk}-old"
    )

    drained = manage("rqworker", "--burst", "default")
    assert drained.returncode == 0, drained.stderr

    given, old = LaunchReport.objects.filter(task=first).order_by("pk")
    assert given.arguments == "given, --count 4" and given.invocation_result == "warnings"
    messages = list(given.logs.values_list("message", flat=True))
    assert "items=['given']" in messages and "count=4 shout=False" in messages
    assert old.arguments is None
    assert "items=['own']" in old.logs.values_list("message", flat=True)
    # Each warnings run of "first" launched "then", on the same worker, linked to its trigger.
    follow_ups = LaunchReport.objects.filter(task=then).order_by("pk")
    assert [r.triggered_by_id for r in follow_ups] == [given.pk, old.pk]
    assert all(r.invocation_result == "ok" for r in follow_ups)
