"""The state of the task manager at a glance: queues, workers, schedulers, schedules and runs.

``collect_status()`` gathers it for ``manage.py taskmanager status``, the JSON status endpoint
and the Prometheus metrics. The database part costs a fixed number of queries; the Redis part
is read with a short timeout and reported as unreachable instead of raising.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from eztaskmanager import conf

# Results a finished run can have, in order of severity; "running" is a run with no result yet.
RESULTS = ("ok", "warnings", "errors", "failed")
SCHEDULER_KEY_PREFIX = "rq:scheduler_instance:"
JOB_TASK_ID = re.compile(r"^eztmr?-(\d+)-")  # runs and retries of a task
# Scheduled jobs listed by name; the total is always given.
SCHEDULED_SHOWN = 20


def local_iso(value: datetime | None) -> str | None:
    """An aware datetime in the site's time zone, ISO 8601 with its offset."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return timezone.localtime(value).isoformat(timespec="seconds")


def run_counts(since: datetime) -> dict[str, int]:
    """Runs started since ``since`` by result, plus ``running`` (no result yet): one query."""
    from eztaskmanager.models import LaunchReport

    rows = (
        LaunchReport.objects.filter(invocation_datetime__gte=since)
        .values("invocation_result")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys((*RESULTS, "running"), 0)
    for row in rows:
        counts[row["invocation_result"] or "running"] = row["n"]
    return counts


def running_summary(now: datetime | None = None) -> dict:
    """How many runs have no result yet, and the age in seconds of the oldest: one query."""
    from eztaskmanager.models import LaunchReport

    now = now or timezone.now()
    found = LaunchReport.objects.filter(invocation_result="").aggregate(
        n=Count("id"), oldest=Min("invocation_datetime")
    )
    oldest = found["oldest"]
    return {
        "count": found["n"],
        "oldest_started": local_iso(oldest),
        "oldest_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


def redis_connection(queue_name: str | None = None):
    """The Redis connection of the task queue (django-rq's settings for the queue)."""
    import django_rq

    return django_rq.get_connection(queue_name or conf.get("QUEUE_NAME"))


def redis_location(connection) -> str:
    """Where ``connection`` points, without any password: ``host:port/db``."""
    kwargs = connection.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def quick_connection(connection, timeout: float = 2.0):
    """A connection like ``connection`` that tries once and gives up after ``timeout`` seconds."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = connection.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),  # a status must not wait seconds on a Redis that is down
    }
    return redis.Redis(
        connection_pool=pool.__class__(connection_class=pool.connection_class, **kwargs)
    )


def queue_names() -> list[str]:
    from django.conf import settings

    names = list(getattr(settings, "RQ_QUEUES", {}) or {})
    wanted = conf.get("QUEUE_NAME")
    return names if wanted in names else [wanted, *names]


def queue_status(connection, names: list[str]) -> list[dict]:
    """Jobs waiting, running and failed on each queue."""
    from rq import Queue

    found = []
    for name in names:
        queue = Queue(name, connection=connection)
        found.append(
            {
                "name": name,
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "failed": queue.failed_job_registry.count,
            }
        )
    return found


def worker_status(connection, now: datetime) -> list[dict]:
    """The RQ workers registered in Redis (a worker's key expires when it stops heartbeating)."""
    from rq import Worker

    workers = []
    for worker in Worker.all(connection=connection):
        heartbeat = worker.last_heartbeat
        if heartbeat is not None and timezone.is_naive(heartbeat):
            heartbeat = heartbeat.replace(tzinfo=UTC)
        workers.append(
            {
                "name": worker.name,
                "hostname": worker.hostname,
                "pid": worker.pid,
                "state": str(worker.get_state()),
                "queues": worker.queue_names(),
                "current_job": worker.get_current_job_id(),
                "last_heartbeat": local_iso(heartbeat),
                "heartbeat_age_seconds": (
                    round((now - heartbeat).total_seconds(), 1) if heartbeat else None
                ),
            }
        )
    return sorted(workers, key=lambda w: w["name"])


def scheduler_status(connection) -> list[dict]:
    """Scheduler processes (``taskmanager scheduler`` or ``rqscheduler``) alive in Redis."""
    schedulers = []
    for key in connection.scan_iter(match=SCHEDULER_KEY_PREFIX + "*", count=100):
        data = {k.decode(): v.decode() for k, v in connection.hgetall(key).items()}
        if not data or "death" in data:
            continue
        birth = data.get("birth")
        schedulers.append(
            {
                "name": key.decode()[len(SCHEDULER_KEY_PREFIX) :],
                "started": local_iso(datetime.fromtimestamp(float(birth), tz=UTC))
                if birth
                else None,
            }
        )
    return sorted(schedulers, key=lambda s: s["name"])


def scheduled_jobs(connection, limit: int = SCHEDULED_SHOWN) -> tuple[list[dict], int]:
    """The next scheduled jobs (with the task each runs, when it is ours) and their total."""
    from rq_scheduler import Scheduler

    from eztaskmanager.models import Task

    key = Scheduler.scheduled_jobs_key
    entries = connection.zrange(key, 0, limit - 1, withscores=True)
    total = connection.zcard(key)
    task_ids = {}
    for raw_id, _ in entries:
        match = JOB_TASK_ID.match(raw_id.decode())
        if match:
            task_ids[raw_id.decode()] = int(match.group(1))
    names = dict(Task.objects.filter(pk__in=set(task_ids.values())).values_list("pk", "name"))
    jobs = []
    for raw_id, score in entries:
        job_id = raw_id.decode()
        task_id = task_ids.get(job_id)
        jobs.append(
            {
                "job_id": job_id,
                "task_id": task_id,
                "task": names.get(task_id),
                "next_run": local_iso(datetime.fromtimestamp(score, tz=UTC)),
            }
        )
    return jobs, total


def redis_status(now: datetime, connection=None) -> dict:
    """Queues, workers, schedulers and scheduled jobs, or why Redis could not be read."""
    from redis.exceptions import RedisError

    own = connection is None
    if own:
        connection = quick_connection(redis_connection())
    where = redis_location(connection)
    try:
        connection.ping()
        jobs, total = scheduled_jobs(connection)
        return {
            "redis": {"location": where, "reachable": True, "error": ""},
            "queues": queue_status(connection, queue_names()),
            "workers": worker_status(connection, now),
            "schedulers": scheduler_status(connection),
            "scheduled": jobs,
            "scheduled_total": total,
        }
    except (RedisError, OSError) as exc:
        return {
            "redis": {
                "location": where,
                "reachable": False,
                "error": str(exc) or type(exc).__name__,
            },
            "queues": [],
            "workers": [],
            "schedulers": [],
            "scheduled": [],
            "scheduled_total": None,
        }
    finally:
        if own:
            connection.connection_pool.disconnect()


def collect_status(connection=None, now: datetime | None = None) -> dict:
    """Everything ``taskmanager status`` shows, as plain data (JSON-ready)."""
    now = now or timezone.now()
    status = {"time": local_iso(now)}
    status.update(redis_status(now, connection))
    status["runs_24h"] = run_counts(now - timedelta(hours=24))
    status["running"] = running_summary(now)
    return status
