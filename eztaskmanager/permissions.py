"""Who may change what a scheduled task runs.

Setting a schedule starts runs, so it takes the launch permission (``eztaskmanager.launch_task``).
So does changing the command or the arguments of a task that is scheduled: when somebody without
that permission does it, the task is unscheduled ("held") until somebody with the permission
saves it again, which schedules it anew. The hold is an entry of the task's admin history.
"""

from __future__ import annotations

import logging

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

logger = logging.getLogger(__name__)

LAUNCH_PERMISSION = "eztaskmanager.launch_task"
# Fields that decide what a run does.
RUN_FIELDS = frozenset({"command", "arguments"})
HELD = "Unscheduled: command or arguments changed without the launch permission."
SCHEDULED = "Scheduled"
STOPPED = "Stopped"
UNSCHEDULED = "Unscheduled"
PAUSED = "Paused"
RESUMED = "Resumed"


def may_launch(user) -> bool:
    return user.is_active and user.has_perm(LAUNCH_PERMISSION)


def is_scheduled_now(task) -> bool:
    """Scheduled, or on and waiting for the scheduler's sync to apply it (no job yet)."""
    pending = task.schedule_enabled and task.is_scheduled
    return bool(task.scheduled_job_id) or task.status == "scheduled" or pending


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
        | Q(change_message__startswith=PAUSED)
        | Q(change_message__startswith=RESUMED)
    )
    latest = (
        entries.filter(about_schedule)
        .order_by("-action_time", "-pk")
        .values_list("change_message", flat=True)
        .first()
    )
    return latest == HELD
