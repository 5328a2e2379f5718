"""Who may change what a scheduled task runs.

Setting a schedule starts runs, so it takes the launch permission (``eztaskmanager.launch_task``).
So does changing the command or the arguments of a task that is scheduled: when somebody without
that permission does it, the task is unscheduled ("held") until somebody with the permission
saves it again, which schedules it anew. The hold is an entry of the task's admin history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from eztaskmanager import audit
from eztaskmanager.services.queues import TaskQueueException, TaskQueueService, get_task_service

logger = logging.getLogger(__name__)

LAUNCH_PERMISSION = "eztaskmanager.launch_task"
# Fields that decide what a run does.
RUN_FIELDS = frozenset({"command", "arguments"})
HELD = "Unscheduled: command or arguments changed without the launch permission."
SCHEDULED = "Scheduled"
STOPPED = "Stopped"
UNSCHEDULED = "Unscheduled"


def may_launch(user) -> bool:
    return user.is_active and user.has_perm(LAUNCH_PERMISSION)


def is_scheduled_now(task) -> bool:
    return bool(task.scheduled_job_id) or task.status == "scheduled"


def hold_if_unauthorised(task, user, changed: Iterable[str], service=None) -> bool:
    """Unschedule ``task`` when ``user`` changed what it runs without the launch permission.

    Returns whether the task was held. The database is cleared first: should Redis be out of
    reach, the scheduler's sync drops the job that no task claims any more.
    """
    if may_launch(user) or not (RUN_FIELDS & set(changed)) or not is_scheduled_now(task):
        return False
    job_id = task.scheduled_job_id
    TaskQueueService.mark_unscheduled(task)
    try:
        service = service or get_task_service()
        cancel = getattr(service, "cancel_job", None)
        if callable(cancel):
            cancel(job_id)
    except TaskQueueException as exc:
        logger.warning("Task %s held; job %s left for the next sync: %s", task.pk, job_id, exc)
    audit.record(task, user, HELD)
    return True


def is_held(task) -> bool:
    """Whether ``task`` waits, unscheduled, for someone with the launch permission to save it."""
    if task.pk is None or task.scheduled_job_id or not task.is_scheduled:
        return False
    content_type = ContentType.objects.get_for_model(task, for_concrete_model=False)
    entries = LogEntry.objects.filter(content_type=content_type, object_id=str(task.pk))
    about_schedule = (
        Q(change_message__startswith=SCHEDULED)
        | Q(change_message__startswith=STOPPED)
        | Q(change_message__startswith=UNSCHEDULED)
    )
    latest = (
        entries.filter(about_schedule)
        .order_by("-action_time", "-pk")
        .values_list("change_message", flat=True)
        .first()
    )
    return latest == HELD
