"""Figures and dictionaries read from the database, for every page and command that shows runs.

One counting of runs by result, one severity order, one date format: the status JSON, the
dashboard, the metrics, the CLI and the log views all read them here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from eztaskmanager.core.dates import local_iso  # noqa: F401 - the dictionaries use it
from eztaskmanager.models import LaunchReport, Log

# Results a finished run can have, mildest first, and the states of a run with none yet.
RESULTS = LaunchReport.RESULT_LEVELS
RUNNING = LaunchReport.STATE_RUNNING
QUEUED = LaunchReport.STATE_QUEUED


def run_counts(since: datetime) -> dict[str, int]:
    """Runs started since ``since`` by result, plus ``running`` (no result yet): one query."""
    return run_counts_by_period({"n": since})["n"]


def run_counts_by_period(periods: dict[str, datetime]) -> dict[str, dict[str, int]]:
    """For each named period start, the runs started since then by result (``running`` and
    ``queued``: no result yet, started or not): one query."""
    counts = {}
    for name, since in periods.items():
        for result in RESULTS:
            counts[f"{name}:{result}"] = Count(
                "id", filter=Q(invocation_result=result, invocation_datetime__gte=since)
            )
        for label, waiting in ((RUNNING, False), (QUEUED, True)):
            counts[f"{name}:{label}"] = Count(
                "id",
                filter=Q(invocation_result="", started_at__isnull=waiting)
                & Q(invocation_datetime__gte=since),
            )
    found = LaunchReport.objects.filter(invocation_datetime__gte=min(periods.values())).aggregate(
        **counts
    )
    return {
        name: {label: found[f"{name}:{label}"] for label in (*RESULTS, RUNNING, QUEUED)}
        for name in periods
    }


def runs_by_task(since: datetime) -> list[dict]:
    """Per task and result since ``since``: count, total and longest duration (one query)."""
    return list(
        LaunchReport.objects.filter(invocation_datetime__gte=since)
        .values("task_id", "task__name", "invocation_result")
        .annotate(n=Count("id"), total=Sum("duration"), longest=Max("duration"))
        .order_by("task_id", "invocation_result")
    )


def running_summary(now: datetime | None = None, queued: bool = False) -> dict:
    """How many runs have started and have no result yet (``queued``: launches no worker has
    started yet), and the age in seconds of the oldest: one query."""
    now = now or timezone.now()
    found = LaunchReport.objects.filter(invocation_result="", started_at__isnull=queued).aggregate(
        n=Count("id"), oldest=Min("invocation_datetime")
    )
    oldest = found["oldest"]
    return {
        "count": found["n"],
        "oldest_started": local_iso(oldest),
        "oldest_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


def report_dict(report: LaunchReport) -> dict:
    """A report as plain data (the CLI's JSON, the live viewer's state)."""
    return {
        "id": report.pk,
        "task_id": report.task_id,
        "task": report.task.name,
        "result": report.invocation_result or None,
        "result_display": report.get_invocation_result_display(),
        "finished": report.is_finished,
        "started_at": local_iso(report.started_at),
        "finished_at": local_iso(report.finished_at),
        "duration": report.duration,
        "n_lines": report.n_lines,
        "n_errors": report.n_errors,
        "n_warnings": report.n_warnings,
        "progress_done": report.progress_done,
        "progress_total": report.progress_total,
        "progress_percent": report.progress_percent,
        "failure_reason": report.failure_reason,
        # What the run executes: what its launch recorded (the task's, before 0015).
        "command": report.ran_command_name,
        "arguments": report.ran_arguments,
    }


def line_dict(log: Log) -> dict:
    """A log line as plain data."""
    return {
        "n": log.lineno,
        "time": local_iso(log.timestamp),
        "level": log.level,
        "message": log.message,
    }


def last_day(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=24)
