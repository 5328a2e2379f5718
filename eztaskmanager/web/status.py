"""The state of the task manager at a glance: queues, workers, schedulers, schedules and runs.

``collect_status()`` gathers it for ``manage.py taskmanager status``, the JSON status endpoint
and the Prometheus metrics. The database part costs a fixed number of queries; the Redis part
is read with a short timeout and reported as unreachable instead of raising.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from eztaskmanager import conf
from eztaskmanager.backends import RQBackend
from eztaskmanager.backends.rq import read_status
from eztaskmanager.core.dates import local_iso
from eztaskmanager.models import Task
from eztaskmanager.web.reporting import RESULTS, last_day, run_counts, running_summary

__all__ = ["RESULTS", "collect_status", "local_iso", "redis_status"]

# Scheduled jobs listed by name; the total is always given.
SCHEDULED_SHOWN = 20


def redis_status(now: datetime, connection=None) -> dict:
    """Queues, workers, schedulers and scheduled jobs, or why Redis could not be read."""
    late_after = conf.get("OVERDUE_FIRING_SECONDS")
    overdue_before = now.timestamp() - late_after if late_after else None
    found = read_status(
        RQBackend(connection=connection).connection, SCHEDULED_SHOWN, overdue_before
    )
    task_ids = {
        task_id for _, task_id, _ in found["scheduled"] + found["overdue"] if task_id is not None
    }
    names = dict(Task.objects.filter(pk__in=task_ids).values_list("pk", "name"))
    return {
        "redis": {k: found[k] for k in ("location", "reachable", "error")},
        "queues": found["queues"],
        "workers": [_worker(w, now) for w in found["workers"]],
        "schedulers": [_scheduler(s, now) for s in found["schedulers"]],
        "scheduler_last_seen": local_iso(found["scheduler_last_seen"]),
        "scheduler_last_seen_age_seconds": _age(found["scheduler_last_seen"], now),
        "scheduled": [
            {
                "job_id": job_id,
                "task_id": task_id,
                "task": names.get(task_id),
                "next_run": local_iso(when),
            }
            for job_id, task_id, when in found["scheduled"]
        ],
        "scheduled_total": found["scheduled_total"],
        # Firings due for longer than EZTASKMANAGER_OVERDUE_FIRING_SECONDS and not claimed.
        "overdue_firings": [
            {
                "job_id": job_id,
                "task_id": task_id,
                "task": names.get(task_id),
                "due": local_iso(when),
                "late_seconds": _age(when, now),
            }
            for job_id, task_id, when in found["overdue"]
        ],
        "overdue_firings_total": found["overdue_total"],
    }


def _worker(worker: dict, now: datetime) -> dict:
    heartbeat = worker["last_heartbeat"]
    return {
        **worker,
        "last_heartbeat": local_iso(heartbeat),
        "heartbeat_age_seconds": round((now - heartbeat).total_seconds(), 1) if heartbeat else None,
    }


def _scheduler(scheduler: dict, now: datetime) -> dict:
    seen = scheduler["last_heartbeat"]
    return {
        **scheduler,
        "started": local_iso(scheduler["started"]),
        "last_heartbeat": local_iso(seen),
        "heartbeat_age_seconds": _age(seen, now),
    }


def _age(moment: datetime | None, now: datetime) -> float | None:
    return round((now - moment).total_seconds(), 1) if moment else None


def collect_status(connection=None, now: datetime | None = None) -> dict:
    """Everything ``taskmanager status`` shows, as plain data (JSON-ready)."""
    now = now or timezone.now()
    status = {"time": local_iso(now)}
    status.update(redis_status(now, connection))
    status["runs_24h"] = run_counts(last_day(now))
    status["running"] = running_summary(now)
    status["queued"] = running_summary(now, queued=True)
    status["paused_schedules"] = paused_schedules(now)
    return status


def paused_schedules(now: datetime) -> dict:
    """Tasks whose schedule is kept but off (stopped): how many, and the first few by name.

    A one-off whose time has passed is done, not paused. One query.
    """
    from eztaskmanager.scheduler.sync import HAS_SCHEDULE

    off = Task.objects.filter(HAS_SCHEDULE, schedule_enabled=False).order_by("name", "pk")
    rows = list(off.values_list("pk", "name", "scheduling", "repetition_period", "cron_expression"))
    paused = [
        {"task_id": pk, "task": name}
        for pk, name, start, period, cron in rows
        if period or cron or start is None or start > now
    ]
    return {"count": len(paused), "tasks": paused[:SCHEDULED_SHOWN]}
