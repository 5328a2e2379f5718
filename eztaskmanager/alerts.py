"""Missed-run alerts: tell the notification handlers when a task has not succeeded for too long.

A task with ``alert_after_minutes`` is overdue when no run of it has ended ok or with warnings
for that many minutes. The count starts at the end of its last such run, or, before any, when
the check first saw the alert set (``alert_counted_from``). The scheduler calls
``check_overdue`` every heartbeat period: a task that becomes overdue gets ``overdue_since`` and
ONE alert. Its next ok or warnings run (``signals.run_finished``) clears it and sends ONE
recovery alert. Each change is a conditional update, so two schedulers never alert twice.

Alerts go to every configured handler (their result level is for run reports), except for a
task whose notifications are turned off.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.reporting import local_iso
from eztaskmanager.services.notifications import send_alert
from eztaskmanager.signals import run_finished

logger = logging.getLogger(__name__)

SUCCESS = (LaunchReport.RESULT_OK, LaunchReport.RESULT_WARNINGS)


def watched() -> Q:
    return Q(alert_after_minutes__isnull=False, alert_after_minutes__gt=0)


def overdue_at(task: Task) -> datetime | None:
    """When ``task`` is (or was) due for its alert; None when it has no alert."""
    if not task.alert_after_minutes or task.alert_counted_from is None:
        return None
    return task.alert_counted_from + timedelta(minutes=task.alert_after_minutes)


def check_overdue(now: datetime | None = None) -> list[Task]:
    """Alert for each watched task that has just become overdue; return those tasks."""
    now = now or timezone.now()
    # A task whose alert was removed is overdue no more, and counts afresh if it is set again.
    Task.objects.filter(~watched()).exclude(
        overdue_since__isnull=True, alert_counted_from__isnull=True
    ).update(overdue_since=None, alert_counted_from=None)
    # A task whose alert was just set starts counting now.
    Task.objects.filter(watched(), alert_counted_from__isnull=True).update(alert_counted_from=now)
    candidates = Task.objects.filter(
        watched(), overdue_since__isnull=True, alert_counted_from__isnull=False
    )
    alerted = []
    for task in candidates.order_by("pk"):
        due = overdue_at(task)
        if due is None or due > now:
            continue
        # The conditional update is the claim: of two schedulers, one alerts.
        claimed = Task.objects.filter(
            pk=task.pk, overdue_since__isnull=True, alert_counted_from=task.alert_counted_from
        ).update(overdue_since=due)
        if claimed:
            task.overdue_since = due
            notify(task, *overdue_message(task))
            alerted.append(task)
    return alerted


def overdue_message(task: Task) -> tuple[str, str]:
    subject = f"Overdue: “{task.name}” has not run successfully for {task.alert_after_minutes} min"
    text = (
        f"Task “{task.name}” (id {task.pk}) has had no run ending ok or with warnings since "
        f"{local_iso(task.alert_counted_from)}; it was due within {task.alert_after_minutes} "
        f"minutes. Last result: {task.cached_last_invocation_result or 'none'}."
    )
    return subject, text


def recovered_message(task: Task, report: LaunchReport, since: datetime) -> tuple[str, str]:
    subject = f"Recovered: “{task.name}” ran successfully again"
    text = (
        f"Task “{task.name}” (id {task.pk}) was overdue since {local_iso(since)}; run "
        f"{report.pk} ended {report.invocation_result} at {local_iso(report.finished_at)}."
    )
    return subject, text


def notify(task: Task, subject: str, text: str) -> None:
    if task.notification_level == Task.NOTIFY_OFF:
        return
    send_alert(subject, text)


@receiver(run_finished, dispatch_uid="eztaskmanager_missed_run_recovery")
def run_succeeded(sender, report: LaunchReport, **kwargs) -> bool:
    """Restart the count after a successful run; send the recovery alert of an overdue task.

    Returns whether a recovery alert was sent.
    """
    task = report.task
    if report.invocation_result not in SUCCESS or not task.alert_after_minutes:
        return False
    ended = report.finished_at or timezone.now()
    Task.objects.filter(pk=task.pk).update(alert_counted_from=ended)
    task.alert_counted_from = ended
    since = Task.objects.filter(pk=task.pk).values_list("overdue_since", flat=True).first()
    if since is None:
        return False
    # Of two runs ending together, the one that clears the mark sends the recovery.
    if not Task.objects.filter(pk=task.pk, overdue_since=since).update(overdue_since=None):
        return False
    task.overdue_since = None
    notify(task, *recovered_message(task, report, since))
    return True


def overdue_tasks(limit: int) -> list[Task]:
    """The tasks now overdue, longest overdue first (the dashboard lists them)."""
    overdue = Task.objects.filter(overdue_since__isnull=False).order_by("overdue_since", "pk")
    return list(overdue[:limit])
