"""Who may change what a scheduled task runs.

Setting a schedule starts runs, so it takes the launch permission (``eztaskmanager.launch_task``).
So does changing what a task runs (``RUN_FIELDS``): when somebody without that permission does
it, the task is *held* (``Task.held_since``): unscheduled if it was scheduled, and launched by
no follow-up, until somebody with the permission approves it (see ``authorisation``).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

LAUNCH_PERMISSION = "eztaskmanager.launch_task"
# Fields that decide what a run does.
RUN_FIELDS = frozenset(
    {
        "command",
        "arguments",
        "legacy_arguments",
        "queue",
        "max_retries",
        "retry_delays",
        "retry_exponential",
    }
)
# Messages of the admin history (for people: nothing reads them back).
HELD = "Unscheduled: what it runs was changed without the launch permission."
SCHEDULED = "Scheduled"
STOPPED = "Stopped"
UNSCHEDULED = "Unscheduled"
PAUSED = "Paused"
RESUMED = "Resumed"


def may_launch(user) -> bool:
    return user.is_active and user.has_perm(LAUNCH_PERMISSION)


def may_view_runs(user, with_tasks: bool = False) -> bool:
    """An active staff user who may view reports (and, ``with_tasks``, tasks): the logs, the
    status and the dashboard."""
    if not (user.is_active and user.is_staff and user.has_perm("eztaskmanager.view_launchreport")):
        return False
    return not with_tasks or user.has_perm("eztaskmanager.view_task")


def is_scheduled_now(task) -> bool:
    """Scheduled, or on and waiting for the scheduler's sync to apply it (no job yet)."""
    pending = task.schedule_enabled and task.is_scheduled
    return bool(task.scheduled_job_id) or task.status == "scheduled" or pending


def is_held(task) -> bool:
    """Whether what ``task`` runs waits for somebody with the launch permission to approve it."""
    return task.pk is not None and task.held_since is not None
