"""Missed-run alerts: tell the notification handlers when a task has not succeeded for too long.

A task with ``alert_after_minutes`` is overdue when no run of it has ended ok or with warnings
for that many minutes. The count starts at the end of its last such run, or, before any, when
the check first saw the alert set (``alert_counted_from``). The scheduler calls
``check_overdue`` every heartbeat period: a task that becomes overdue gets ``overdue_since`` and
ONE alert. Its next ok or warnings run (``signals.run_finished``) clears it and sends ONE
recovery alert. Each change is a conditional update, so two schedulers never alert twice.

Overdue firings (``check_overdue_firings``): a scheduled job still due and unclaimed
``EZTASKMANAGER_OVERDUE_FIRING_SECONDS`` after its due time, or whose claims keep losing while
nothing moves it, is a firing the scheduler cannot make. The scheduler logs an ERROR naming the
task and the handlers get ONE alert per firing (a mark in Redis, set by one atomic script, so
two schedulers alert once); when the firing is finally claimed, or leaves the schedule, they get
ONE all-clear.

Alerts go to every configured handler (their result level is for run reports), except for a
task whose notifications are turned off.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from eztaskmanager import conf
from eztaskmanager.backends import task_id_of
from eztaskmanager.core.dates import local_iso
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.notifications import send_alert
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


# -- overdue firings ---------------------------------------------------------------------------

# Overdue firings looked at in one check (the status lists the same first ones).
FIRINGS_LOOKED_AT = 100


def check_overdue_firings(backend, now: float | None = None) -> list[str]:
    """Report each firing that has become overdue; send the all-clear of marked firings that
    are no longer due at the marked time. Returns the job ids reported by this call.

    ``backend`` is the scheduler's ``RQBackend``; ``now`` a Unix time.
    """
    limit = conf.get("OVERDUE_FIRING_SECONDS")
    now = time.time() if now is None else now
    for job_id, due in backend.clear_overdue():
        firing_cleared(job_id, due, now)
    if not limit:
        return []
    reported = []
    for job_id, due in backend.due_firings(now - limit, FIRINGS_LOOKED_AT):
        if backend.mark_overdue(job_id, due):
            firing_overdue(job_id, float(due), now)
            reported.append(job_id)
    return reported


def firing_overdue(job_id: str, due: float, now: float, reason: str = "") -> None:
    """Log and alert, once, that the firing of ``job_id`` due at ``due`` did not happen."""
    task = _task_of(job_id)
    logger.error(
        "Firing of task %s (%s) due at %s is %.1f s overdue and not claimed%s; job %s",
        task.pk if task else task_id_of(job_id),
        task.name if task else "?",
        _when(due),
        now - due,
        f" ({reason})" if reason else "",
        job_id,
    )
    subject = _("Firing overdue: “%(task)s” did not start at %(due)s") % {
        "task": _name(task, job_id),
        "due": _when(due),
    }
    text = _(
        "The scheduled run of task “%(task)s” (id %(id)s, job %(job)s) was due at %(due)s and "
        "is still not sent to a worker %(late).0f s later. The scheduler keeps trying; look at "
        "its log."
    ) % {
        "task": _name(task, job_id),
        "id": task.pk if task else task_id_of(job_id),
        "job": job_id,
        "due": _when(due),
        "late": now - due,
    }
    _notify_firing(task, subject, text)


def firing_fired(job_id: str, due: float, now: float) -> None:
    """The all-clear of an overdue firing that a scheduler has just claimed."""
    task = _task_of(job_id)
    logger.warning(
        "Overdue firing of task %s (%s) due at %s sent %.1f s late",
        task.pk if task else task_id_of(job_id),
        task.name if task else "?",
        _when(due),
        now - due,
    )
    subject = _("Firing sent: “%(task)s” started late") % {"task": _name(task, job_id)}
    text = _(
        "The overdue run of task “%(task)s” (id %(id)s) due at %(due)s was sent to a worker "
        "%(late).0f s late."
    ) % {
        "task": _name(task, job_id),
        "id": task.pk if task else task_id_of(job_id),
        "due": _when(due),
        "late": now - due,
    }
    _notify_firing(task, subject, text)


def firing_cleared(job_id: str, due: float, now: float) -> None:
    """The all-clear of an overdue firing that left the schedule without a claim of ours (its
    task was stopped or rescheduled, or the scheduler stopped between claim and all-clear)."""
    task = _task_of(job_id)
    logger.warning(
        "Overdue firing of task %s (%s) due at %s is no longer waiting",
        task.pk if task else task_id_of(job_id),
        task.name if task else "?",
        _when(due),
    )
    subject = _("Firing no longer overdue: “%(task)s”") % {"task": _name(task, job_id)}
    text = _(
        "The overdue run of task “%(task)s” (id %(id)s) due at %(due)s is no longer waiting: it "
        "was sent, or its task was stopped or rescheduled."
    ) % {
        "task": _name(task, job_id),
        "id": task.pk if task else task_id_of(job_id),
        "due": _when(due),
    }
    _notify_firing(task, subject, text)


def _task_of(job_id: str) -> Task | None:
    task_id = task_id_of(job_id)
    return None if task_id is None else Task.objects.filter(pk=task_id).first()


def _name(task: Task | None, job_id: str) -> str:
    return task.name if task is not None else job_id


def _when(stamp: float) -> str:
    return local_iso(datetime.fromtimestamp(stamp, tz=UTC))


def _notify_firing(task: Task | None, subject: str, text: str) -> None:
    if task is not None and task.notification_level == Task.NOTIFY_OFF:
        return
    send_alert(subject, text)
