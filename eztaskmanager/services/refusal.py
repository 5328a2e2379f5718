"""A run the command policy refuses: it leaves a failed report, and the command never starts."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from eztaskmanager import policy

logger = logging.getLogger(__name__)


def refuse_run(task, reason: str, *, job=None, attempt: int = 1, scheduled: bool = False):
    """Record a launch of ``task`` refused for ``reason``; return its report (result failed).

    The task's state is brought up to date as after any run (a scheduled task keeps its
    schedule, so every firing says again why it did not run); no retry is planned.
    """
    # A real cycle: the run lifecycle in eztaskmanager.services imports this module.
    from eztaskmanager.models import LaunchReport
    from eztaskmanager.services import finish_task
    from eztaskmanager.services.guard import worker_label
    from eztaskmanager.services.notifications import emit_notifications

    now = timezone.now()
    with transaction.atomic():
        report = LaunchReport.objects.create(
            task=task,
            started_at=now,
            finished_at=now,
            duration=0.0,
            invocation_result=LaunchReport.RESULT_FAILED,
            failure_reason=reason,
            rq_job_id=job.id if job is not None else "",
            worker=worker_label(),
            attempt=attempt,
            max_attempts=attempt,
        )
        detail = policy.explain(task.command) or ""
        report.append_line("ERROR", f"Not run: {reason}. {detail}".strip(), count_level=True)
        finish_task(task, report, release_lock=False, scheduled=scheduled)
    logger.warning("Task %s: %s", task.pk, reason)
    emit_notifications(report)
    return report
