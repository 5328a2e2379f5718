"""The scheduler's sweep: no launch lost, no task left ``spooled`` or ``started`` for ever.

Every launch is a queued report before its job reaches Redis (see ``records/launches.py``). A queued
report older than ``SWEEP_SECONDS`` whose job is found nowhere (not on its queue, not scheduled,
not started, not deferred) was lost on its way: a worker killed between its dequeue and its work
horse's start, a Redis that lost its data, a send after a commit that failed. The sweep sends it
again under the same job id; the claim in ``Run.start`` makes sure it runs once. A started run
whose process died is closed by ``guard.reap_orphans`` (heartbeat). Then a task ``spooled`` or
``started`` with no run left without a result goes back to its schedule state, and the runs
stopped from the admin get their notifications and follow-ups (``ending.react_pending``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.backends import Backend, BackendError
from eztaskmanager.models import LaunchReport
from eztaskmanager.records import launches, taskstate
from eztaskmanager.runs import ending

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    resent: list[int] = field(default_factory=list)  # report ids whose job was sent again
    tasks_reconciled: int = 0
    reacted: list[int] = field(default_factory=list)  # runs ended in a web request


def sweep(backend: Backend, now=None) -> SweepResult:
    """Send lost launches again and reconcile task states; return what was done."""
    now = now or timezone.now()
    older_than = now - timedelta(seconds=conf.get("SWEEP_SECONDS"))
    waiting = list(
        LaunchReport.objects.select_related("task")
        .filter(invocation_result="", started_at__isnull=True, invocation_datetime__lt=older_than)
        .exclude(rq_job_id="")
        .order_by("pk")
    )
    result = SweepResult()
    if waiting:
        live = backend.live_jobs([report.rq_job_id for report in waiting], older_than)
        for report in waiting:
            if report.rq_job_id not in live and resend(report, backend):
                result.resent.append(report.pk)
    result.tasks_reconciled = taskstate.reconcile_waiting()
    # Runs stopped from the admin: their notifications and follow-ups, out of the request.
    result.reacted = ending.react_pending(backend)
    if result.resent:
        logger.warning(
            "Sent again %s launch(es) whose job was lost: reports %s",
            len(result.resent),
            ", ".join(map(str, result.resent)),
        )
    return result


def resend(report: LaunchReport, backend: Backend) -> bool:
    """Send queued ``report``'s job again, if it is still queued; True when sent."""
    if not LaunchReport.objects.filter(
        pk=report.pk, started_at__isnull=True, invocation_result=""
    ).exists():
        return False  # started or closed meanwhile
    try:
        job = launches.job_of(report)
        if report.run_after is not None and report.run_after > timezone.now():
            backend.schedule_at(job, report.run_after)  # a deferred launch keeps its time
        else:
            backend.enqueue(job)
    except BackendError as exc:
        if exc.unreachable:
            raise
        logger.error("Launch %s not sent again: %s", report.pk, exc)
        return False
    return True
