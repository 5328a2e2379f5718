"""Monitoring views: the JSON status, Prometheus metrics and the dashboard page.

* ``status_json``: what ``manage.py taskmanager status --json`` prints;
* ``metrics``: Prometheus text exposition, served only with ``EZTASKMANAGER_PROMETHEUS_ENABLED``
  (404 otherwise); with ``prometheus-client`` installed it writes the output, else a plain
  writer here does;
* ``dashboard``: an admin page with recent results, runs in progress, next runs, failing tasks,
  workers and schedulers; it reloads itself.

Each needs an active staff user with the view permissions on tasks and launch reports; the
metrics also accept ``Authorization: Bearer <EZTASKMANAGER_PROMETHEUS_TOKEN>`` for a scraper.
Every view reads the database with a fixed number of queries, whatever the number of tasks.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from eztaskmanager import conf
from eztaskmanager.core import permissions
from eztaskmanager.models import LaunchReport, Task
from eztaskmanager.notifications import alerts
from eztaskmanager.web.reporting import (
    RUNNING,
    last_day,
    run_counts_by_period,
    running_summary,
    runs_by_task,
)
from eztaskmanager.web.status import collect_status, redis_status
from eztaskmanager.web.views import json_response

# Seconds between reloads of the dashboard.
DASHBOARD_REFRESH = 10
# Rows shown in each list of the dashboard.
DASHBOARD_ROWS = 15
EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def monitor_view(view):
    """GET or HEAD only, by a user who may monitor (403 otherwise), never cached."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not permissions.may_view_runs(request.user, with_tasks=True):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return require_safe(never_cache(wrapper))


# -- JSON status -----------------------------------------------------------------------------


@monitor_view
def status_json(request):
    return json_response(collect_status())


# -- Prometheus ------------------------------------------------------------------------------


@dataclass
class Metric:
    """One metric family: its samples as (labels, value) pairs with the same label names."""

    name: str
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def collect_metrics(connection=None) -> list[Metric]:
    """The metrics, from the database (three queries) and Redis."""
    now = timezone.now()
    running = running_summary(now)
    return [
        *run_metrics(now),
        last_run_metric(),
        Metric(
            "eztaskmanager_running_runs",
            "Runs started and not finished (or whose worker died before recording a result).",
            [({}, running["count"])],
        ),
        Metric(
            "eztaskmanager_oldest_running_run_age_seconds",
            "Age of the oldest run without a result (0 when there is none).",
            [({}, running["oldest_age_seconds"] or 0)],
        ),
        *redis_metrics(redis_status(now, connection)),
    ]


def run_metrics(now) -> list[Metric]:
    """Runs of the last 24 hours by task and result, and their mean and longest duration."""
    runs = Metric(
        "eztaskmanager_runs_24h",
        "Runs started in the last 24 hours, by task and result (running: no result yet).",
    )
    duration_avg = Metric(
        "eztaskmanager_run_duration_seconds_avg_24h",
        "Mean duration of the runs finished in the last 24 hours, by task.",
    )
    duration_max = Metric(
        "eztaskmanager_run_duration_seconds_max_24h",
        "Longest duration of the runs finished in the last 24 hours, by task.",
    )
    per_task: dict[tuple[str, str], tuple[float, int, float]] = {}
    for row in runs_by_task(last_day(now)):
        labels = {"task_id": str(row["task_id"]), "task": row["task__name"]}
        result = row["invocation_result"] or RUNNING
        runs.samples.append(({**labels, "result": result}, row["n"]))
        if result != RUNNING and row["total"] is not None:
            key = (labels["task_id"], labels["task"])
            total, count, longest = per_task.get(key, (0.0, 0, 0.0))
            per_task[key] = (total + row["total"], count + row["n"], max(longest, row["longest"]))
    for (task_id, name), (total, count, longest) in per_task.items():
        labels = {"task_id": task_id, "task": name}
        duration_avg.samples.append((labels, total / count))
        duration_max.samples.append((labels, longest))
    return [runs, duration_avg, duration_max]


def last_run_metric() -> Metric:
    last_run = Metric(
        "eztaskmanager_last_run_timestamp_seconds",
        "When the last finished run of each task started (Unix time), with its result.",
    )
    for task_id, name, when, result in Task.objects.filter(
        cached_last_invocation_datetime__isnull=False
    ).values_list("pk", "name", "cached_last_invocation_datetime", "cached_last_invocation_result"):
        last_run.samples.append(
            ({"task_id": str(task_id), "task": name, "result": result or ""}, when.timestamp())
        )
    return last_run


def redis_metrics(state: dict) -> list[Metric]:
    reachable = state["redis"]["reachable"]
    metrics = [Metric("eztaskmanager_redis_up", "1 when Redis answered.", [({}, int(reachable))])]
    if not reachable:
        return metrics
    depth = Metric("eztaskmanager_queue_jobs", "Jobs on each RQ queue, by state.")
    for queue in state["queues"]:
        for key in ("queued", "started", "failed"):
            depth.samples.append(({"queue": queue["name"], "state": key}, queue[key]))
    return metrics + [
        depth,
        Metric(
            "eztaskmanager_scheduled_jobs",
            "Jobs waiting in the scheduler's set.",
            [({}, state["scheduled_total"])],
        ),
        Metric(
            "eztaskmanager_overdue_firings",
            "Scheduled firings due for longer than EZTASKMANAGER_OVERDUE_FIRING_SECONDS and "
            "not sent (a scheduler that cannot claim them, or none running).",
            [({}, state["overdue_firings_total"])],
        ),
        Metric(
            "eztaskmanager_overdue_firing_late_seconds",
            "How late each overdue firing is (the first ones listed by the status), by task.",
            [
                (
                    {
                        "task_id": str(firing["task_id"] or ""),
                        "task": firing["task"] or "",
                        "job_id": firing["job_id"],
                    },
                    firing["late_seconds"],
                )
                for firing in state["overdue_firings"]
            ],
        ),
        Metric("eztaskmanager_workers", "RQ workers registered.", [({}, len(state["workers"]))]),
        Metric(
            "eztaskmanager_schedulers",
            "Scheduler processes alive.",
            [({}, len(state["schedulers"]))],
        ),
        *liveness_metrics(state),
    ]


def liveness_metrics(state: dict) -> list[Metric]:
    """When the workers and a scheduler were last seen (Unix times; absent when never)."""
    workers = Metric("eztaskmanager_worker_last_seen_seconds", "When each RQ worker last beat.")
    for worker in state["workers"]:
        if worker["heartbeat_age_seconds"] is not None:
            seen = timezone.now().timestamp() - worker["heartbeat_age_seconds"]
            workers.samples.append(({"worker": worker["name"]}, round(seen, 1)))
    found = [workers]
    if state["scheduler_last_seen_age_seconds"] is not None:
        seen = timezone.now().timestamp() - state["scheduler_last_seen_age_seconds"]
        found.append(
            Metric(
                "eztaskmanager_scheduler_last_seen_seconds",
                "When a scheduler was last seen.",
                [({}, round(seen, 1))],
            )
        )
    return found


def exposition(metrics: list[Metric]) -> str:
    """The metrics in Prometheus's text format (every family a gauge)."""
    lines = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} gauge")
        for labels, value in metric.samples:
            text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(
                f"{metric.name}{{{text}}} {_number(value)}"
                if text
                else f"{metric.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def client_exposition(metrics: list[Metric]) -> tuple[bytes, str]:
    """The metrics written by prometheus-client: (body, content type)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class Collector:
        def collect(self):
            for metric in metrics:
                names = list(metric.samples[0][0]) if metric.samples else []
                family = GaugeMetricFamily(metric.name, metric.help, labels=names)
                for labels, value in metric.samples:
                    family.add_metric([labels[name] for name in names], value)
                yield family

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _bearer_ok(request) -> bool:
    token = conf.get("PROMETHEUS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if not token or not sent.startswith("Bearer "):
        return False
    return hmac.compare_digest(sent[len("Bearer ") :].strip().encode(), str(token).encode())


@require_safe
@never_cache
def metrics(request):
    if not conf.get("PROMETHEUS_ENABLED"):
        raise Http404("Prometheus metrics are not enabled.")
    if not (_bearer_ok(request) or permissions.may_view_runs(request.user, with_tasks=True)):
        raise PermissionDenied
    found = collect_metrics()
    try:
        body, content_type = client_exposition(found)
    except ImportError:
        body, content_type = exposition(found), EXPOSITION_CONTENT_TYPE
    return HttpResponse(body, content_type=content_type)


# -- dashboard -------------------------------------------------------------------------------


def dashboard_data(now=None) -> dict:
    """What the dashboard shows: a fixed number of queries, whatever the size of the tables."""
    now = now or timezone.now()
    counts = run_counts_by_period({"day": last_day(now), "week": now - timedelta(days=7)})
    results = [
        {"result": label, "day": counts["day"][label], "week": counts["week"][label]}
        for label in counts["day"]
    ]
    running_total = running_summary(now)["count"]
    running = list(
        LaunchReport.objects.filter(invocation_result="")
        .select_related("task")
        .order_by("-id")[:DASHBOARD_ROWS]
    )
    upcoming = list(
        Task.objects.filter(cached_next_ride__isnull=False).order_by("cached_next_ride", "pk")[
            :DASHBOARD_ROWS
        ]
    )
    failing = list(
        Task.objects.filter(cached_last_invocation_result__in=["errors", "failed"]).order_by(
            "-cached_last_invocation_datetime", "pk"
        )[:DASHBOARD_ROWS]
    )
    return {
        "now": now,
        "overdue": alerts.overdue_tasks(DASHBOARD_ROWS),
        "results": results,
        "running": running,
        "running_total": running_total,
        "upcoming": upcoming,
        "failing": failing,
        "redis": redis_status(now),
    }


@staff_member_required
@monitor_view
def dashboard(request):
    context = {
        **admin.site.each_context(request),
        "title": _("Task manager dashboard"),
        "refresh": DASHBOARD_REFRESH,
        **dashboard_data(),
    }
    return render(request, "eztaskmanager/dashboard.html", context)


urlpatterns = [
    path("status.json", status_json, name="status_json"),
    path("metrics", metrics, name="metrics"),
    path("dashboard/", dashboard, name="dashboard"),
]
