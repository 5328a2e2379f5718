"""Signals of the run lifecycle, and keeping Redis in step with the Task table.

``run_finished`` is sent by ``ending`` once a run's outcome is stored (``report`` is the
LaunchReport, its ``invocation_result`` set) and committed; follow-up tasks and missed-run alerts
listen to it, so that the run lifecycle needs to know nothing about them. ``notes`` is a list a
receiver may add ``(level, message, counted)`` lines to: they are written to the report's log in
one batch after every receiver ran (None: write your own).
"""

import logging

from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver

from eztaskmanager import backends
from eztaskmanager.models import Task

logger = logging.getLogger(__name__)

run_finished = Signal()  # sender: the Task class; keyword arguments: report, notes


@receiver(post_delete, sender=Task, dispatch_uid="eztaskmanager_unschedule_deleted_task")
def unschedule_deleted_task(sender, instance: Task, **kwargs):
    """A deleted task (one by one or in bulk) leaves no scheduled job behind."""
    if not instance.scheduled_job_id:
        return
    try:
        backends.get_backend().cancel(instance.scheduled_job_id)
    except backends.BackendError as exc:
        logger.warning(
            "Deleted task %s: its scheduled job %s could not be removed now: %s",
            instance.pk,
            instance.scheduled_job_id,
            exc,
        )
