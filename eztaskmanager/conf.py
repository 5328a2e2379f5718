"""Settings of django-eztaskmanager, read at call time with their defaults in one place.

Every setting is named ``EZTASKMANAGER_<NAME>`` in the project's settings module; read it
with ``conf.get("NAME")`` or the attribute form ``conf.settings.NAME``, never copy it into a
module constant, so that ``override_settings`` works.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

PREFIX = "EZTASKMANAGER_"

DEFAULTS: dict[str, Any] = {
    # "RQ" (django-rq + rq-scheduler) or "immediate" (in-process, no Redis), or a dotted path
    # to a TaskQueueService subclass.
    "QUEUE_SERVICE_TYPE": "RQ",
    # Name of the django-rq queue (a key of RQ_QUEUES) tasks are enqueued on.
    "QUEUE_NAME": "default",
    # Lines of log shown in a report's tail (admin inline, notifications).
    "N_LINES_IN_REPORT_LOG": 10,
    # Reports kept per task; older ones are pruned after each run. 0 keeps every report.
    "N_REPORTS_INLINE": 10,
    # Reports kept per task of a @task function (each call's result is read from its reports);
    # 0 keeps every one. Never fewer than N_REPORTS_INLINE.
    "N_CALL_RESULTS": 1000,
    "SHOW_LOGVIEWER_LINK": True,
    # Absolute base URL of the site, used to build links in notifications.
    "BASE_URL": "",
    # {"name": {"class": "dotted.path", "level": "errors", ...kwargs}}
    "NOTIFICATION_HANDLERS": {},
    # Log records buffered before a bulk insert, and the longest time a record waits.
    "LOG_FLUSH_LINES": 1000,
    "LOG_FLUSH_SECONDS": 1.0,
    # Commands never allowed, on top of the built-in deny list of eztaskmanager.core.policy.
    "EXCLUDED_COMMANDS": [],
    # Commands allowed besides those of the project's own apps (by name), e.g.
    # ["clearsessions"]; the built-in deny list still wins.
    "ALLOWED_COMMANDS": [],
    # Apps (module path or label) whose every command is allowed, e.g. ["django.contrib.sessions"].
    "ALLOWED_APPS": [],
    # Longest run in seconds when a task sets no timeout of its own; None: the RQ queue's
    # default timeout.
    "DEFAULT_TIMEOUT": None,
    # A running run renews its heartbeat (and its task's lock) this often, in seconds.
    "HEARTBEAT_SECONDS": 10,
    # A run whose heartbeat is older than this is taken as dead ("worker died").
    "ORPHAN_AFTER_SECONDS": 45,
    # TaskWorker imports the commands of the tasks and primes the ORM once before it forks
    # work horses (see eztaskmanager.worker.warmup); False: every horse starts cold.
    "WARM_WORKER": True,
    # WarmTaskWorker: its resident work horse is replaced after this many runs (0 or None: no
    # limit) ...
    "HORSE_MAX_RUNS": 500,
    # ... and after a run that left it with more resident memory than this, in MB (0 or None:
    # no limit).
    "HORSE_MAX_MEMORY_MB": 512,
    # The scheduler looks this often (seconds) for launches whose job is found nowhere in Redis
    # (a worker killed between dequeue and start) and sends them again; a launch is taken as
    # lost only once it is this old. A lost launch is sent again within twice this time.
    "SWEEP_SECONDS": 10,
    # TaskWorkers warn the notification handlers (once, and once when it is back) when no
    # scheduler has been seen for this many seconds. 0 or None: no warning.
    "SCHEDULER_MISSING_SECONDS": 300,
    # A firing still due and unclaimed this many seconds after its due time is overdue: the
    # scheduler logs an ERROR, the notification handlers hear it once (and once more when it
    # fires), and the status, metrics and dashboard list it. 0 or None: not looked for.
    "OVERDUE_FIRING_SECONDS": 10,
    # How long a run keeps trying to store its log lines and outcome while the database is
    # unreachable (a restart) before giving up; its lines wait in memory meanwhile.
    "DATABASE_RETRY_SECONDS": 60,
    # On a worker's warm shutdown, a run still going after this many seconds is interrupted.
    "SHUTDOWN_GRACE_SECONDS": 60,
    # Log lines stored per report; past it lines are counted, not stored. None: no limit.
    "MAX_LOG_LINES": 1_000_000,
    # Format of one log line in text views and downloads.
    "LOG_LINE_FORMAT": "{timestamp} - {level} - {message}",
    # Tasks declared in code, applied by `manage.py taskmanager load`: a list of dicts with a
    # name, a command and optionally the other fields of a task (see tasks_as_code.FIELDS).
    "TASKS": [],
    # Serve Prometheus metrics at the `eztaskmanager:metrics` URL (404 when False).
    "PROMETHEUS_ENABLED": False,
    # A token a scraper sends as "Authorization: Bearer <token>" instead of a staff login.
    "PROMETHEUS_TOKEN": "",
}


def get(name: str) -> Any:
    """Return the value of setting ``EZTASKMANAGER_<name>`` or its default."""
    if name not in DEFAULTS:
        raise AttributeError(f"Unknown django-eztaskmanager setting: {name}")
    return getattr(django_settings, PREFIX + name, DEFAULTS[name])


class _Settings:
    """Attribute access to the settings: ``conf.settings.N_REPORTS_INLINE``."""

    def __getattr__(self, name: str) -> Any:
        return get(name)


settings = _Settings()
