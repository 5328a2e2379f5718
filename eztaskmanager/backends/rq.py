"""The RQ backend: runs on a django-rq queue, scheduled jobs in rq-scheduler's sorted set.

It owns the job-id scheme (``eztm-<task>-<random>``, ``eztmr-...`` for retries) and everything
this package knows about RQ and Redis: the other modules speak to it, never to Redis. It uses
rq's and rq-scheduler's public API: jobs are built with ``Job.create`` (which takes the
``on_stopped`` callback that rq-scheduler's own helpers do not), read with ``Job.fetch_many``,
and saved with their exact due time as score in ``Scheduler.scheduled_jobs_key``
(rq-scheduler's helpers round it down to the second). What it relies on beyond that is in
``eztaskmanager.backends.internals`` (see docs/internals.rst).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import django_rq
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django_rq.queues import get_redis_connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Callback, Queue, Worker, get_current_job
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.timeouts import JobTimeoutException
from rq_scheduler import Scheduler

from eztaskmanager import conf
from eztaskmanager.backends.base import (
    JOB_PREFIX,
    RETRY_PREFIX,
    RUN_FUNCTION,
    STOPPED_CALLBACK,
    Backend,
    BackendError,
    Job,
    task_id_of,
)
from eztaskmanager.backends.internals import rq_scheduler as rq_scheduler_data
from eztaskmanager.backends.internals.redis import pool_settings, quick_client

logger = logging.getLogger(__name__)

META_TASK_ID = "eztaskmanager_task_id"
META_RETRY_OF = "eztaskmanager_retry_of"
# A launch recorded already and waiting for its time (a call's ``run_after``): at that time it
# goes to its queue as it is, with no firing of its task's schedule to record.
META_LAUNCH_OF = "eztaskmanager_launch_of"
SCHEDULED_KEY = rq_scheduler_data.SCHEDULED_KEY
SCHEDULER_KEY_PREFIX = rq_scheduler_data.INSTANCE_KEY_PREFIX
LOCK_KEY = "eztaskmanager:run-lock:{}"
# Written by the scheduler after each sync; gone means Redis lost its data (FLUSHALL, a new
# empty server), so the schedule is rebuilt at once.
MARKER_KEY = "eztaskmanager:schedule-marker"
# Set (once) when a worker warned that no scheduler was seen; a scheduler deletes it.
MISSING_KEY = "eztaskmanager:scheduler-missing"
# A scheduler waiting for its next due time blocks on this list; a schedule write pushes to it
# so that a new, earlier due time is seen at once.
WAKE_KEY = "eztaskmanager:scheduler-wake"
# How often Redis checks blocked clients (its ``hz``, 10 by default).
REDIS_TICK = 0.1
# When a scheduler was last seen (a Unix time), kept after every scheduler is gone.
SEEN_KEY = "eztaskmanager:scheduler-seen"
# Renew or delete the run lock only while the token still holds it.
RENEW_LOCK = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)
RELEASE_LOCK = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
# Firings found overdue (due and still unclaimed for EZTASKMANAGER_OVERDUE_FIRING_SECONDS):
# job id -> the due time, as Redis wrote it. The mark makes the alert go out once, whichever
# scheduler sees it first; the claim that finally fires the job deletes it.
OVERDUE_KEY = "eztaskmanager:overdue-firings"
# Scores cross between Redis and Python as text, and two texts of one number can differ
# ("1796362715.1827545" from ZSCORE, "1.7963627151827545e+9" through a RESP3 client): the
# scripts below never compare scores as text, only as numbers (Lua's tonumber).
# The due entries, read by a script so that each score comes back as Redis itself writes it.
DUE_SCRIPT = """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
"""
# Claim a firing: only if the job is still due at the time the scheduler read, move it to its
# next due time (or drop it) and delete its overdue mark. 0: lost (another scheduler moved it
# first), 1: won, 2: won and the firing had been reported overdue.
CLAIM_SCRIPT = """
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local read = tonumber(ARGV[2])
if (not score) or (not read) or score ~= read then
    return 0
end
if ARGV[3] == '' then
    redis.call('ZREM', KEYS[1], ARGV[1])
else
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 then
    return 2
end
return 1
"""
# Mark a firing overdue, once per due time: 1 when this call marked it.
MARK_OVERDUE = """
local marked = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if marked and marked == tonumber(ARGV[2]) then
    return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""
# Delete the marks whose job is no longer due at the marked time (moved, or gone from the
# set): the flat list of job ids and marked due times deleted.
CLEAR_OVERDUE = """
local cleared = {}
local marks = redis.call('HGETALL', KEYS[2])
for i = 1, #marks, 2 do
    local score = tonumber(redis.call('ZSCORE', KEYS[1], marks[i]))
    if (not score) or score ~= tonumber(marks[i + 1]) then
        redis.call('HDEL', KEYS[2], marks[i])
        table.insert(cleared, marks[i])
        table.insert(cleared, marks[i + 1])
    end
end
return cleared
"""
# States of a job that is on its way through a worker.
ON_ITS_WAY = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED)

_connections: dict = {}


def shared_connection(queue_name: str):
    """One Redis client per process and queue (each client opens its own connections).

    Inside a worker, the job's own connection. redis-py's pools reconnect after a fork or a
    server restart by themselves.
    """
    job = get_current_job()
    if job is not None and job.origin == queue_name:
        return job.connection
    config = getattr(settings, "RQ_QUEUES", {}).get(queue_name)
    key = (queue_name, repr(config))
    if key not in _connections:
        # Built from the settings as they are now: django-rq 3 reads RQ_QUEUES once, at import.
        _connections[key] = (
            get_redis_connection(config) if config else django_rq.get_connection(queue_name)
        )
    return _connections[key]


def location(connection) -> str:
    """Where ``connection`` points, without any password: ``host:port/db``."""
    kwargs = pool_settings(connection)
    if kwargs.get("path"):
        return f"{kwargs['path']}/{kwargs.get('db', 0)}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def quick_connection(connection, timeout: float = 2.0):
    """A client like ``connection`` that tries once and gives up after ``timeout`` seconds."""
    return quick_client(connection, timeout)


def problem(connection, timeout: float = 2.0) -> str:
    """Why ``connection`` cannot be used, or ``""`` when Redis answers."""
    try:
        quick_connection(connection, timeout).ping()
    except (RedisError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return ""


class Firings:
    """The scheduler's side of ``RQBackend``: due firings, their claim and overdue marks.

    It needs ``connection`` and ``guard`` (``RQBackend``'s).
    """

    def script(self, source: str):
        """The Lua script ``source``, registered once on this backend's connection."""
        if source not in self._scripts:
            self._scripts[source] = self.connection.register_script(source)
        return self._scripts[source]

    def due_firings(self, now: float, limit: int = -1) -> list[tuple[str, str]]:
        """The scheduled jobs due at ``now`` (Unix time), earliest first, at most ``limit``
        (-1: all): ``(job id, due time)``, the due time as text written by Redis. Pass that
        text back to ``claim``; ``float()`` reads it."""
        flat = self.guard(
            self.script(DUE_SCRIPT), keys=[SCHEDULED_KEY], args=[score_text(now), limit]
        )
        return [(flat[i].decode(), flat[i + 1].decode()) for i in range(0, len(flat), 2)]

    def claim(self, job_id: str, read_score: str | float, next_score: str | float | None) -> int:
        """Claim the firing of ``job_id`` due at ``read_score`` (as ``due_firings`` gave it),
        moving the job to ``next_score`` (None or "": out of the set), atomically.

        Returns 0 when the job is no longer due at that time (another scheduler claimed it),
        1 when this call claimed it, 2 when it claimed it and the firing had been marked
        overdue (the mark is gone). The times are compared as numbers, never as text.
        """
        following = "" if next_score in (None, "") else score_text(next_score)
        return int(
            self.guard(
                self.script(CLAIM_SCRIPT),
                keys=[SCHEDULED_KEY, OVERDUE_KEY],
                args=[job_id, score_text(read_score), following],
            )
        )

    def mark_overdue(self, job_id: str, due: str | float) -> bool:
        """Mark the firing of ``job_id`` due at ``due`` overdue; True only for the first call
        for that due time (of every scheduler)."""
        args = [job_id, score_text(due)]
        return bool(self.guard(self.script(MARK_OVERDUE), keys=[OVERDUE_KEY], args=args))

    def clear_overdue(self) -> list[tuple[str, float]]:
        """Delete the overdue marks of jobs no longer due at the marked time (fired by a claim
        that did not delete the mark, rescheduled, or removed): ``(job id, marked due time)``."""
        flat = self.guard(self.script(CLEAR_OVERDUE), keys=[SCHEDULED_KEY, OVERDUE_KEY])
        return [(flat[i].decode(), float(flat[i + 1])) for i in range(0, len(flat), 2)]

    def due_score(self, job_id: str) -> float | None:
        """The due time of ``job_id`` as a Unix time (None: not in the scheduled set)."""
        score = self.guard(self.connection.zscore, SCHEDULED_KEY, job_id)
        return None if score is None else float(score)

    def schedulers_alive(self) -> int:
        """How many scheduler processes are alive (their key not expired)."""
        return len(self.guard(_schedulers, self.connection))


class RQBackend(Firings, Backend):
    """Jobs on the django-rq queue ``queue_name``, over ``connection`` (the queue's by default)."""

    supports_schedule = True
    supports_stop = True
    supports_run_lock = True

    def __init__(self, queue_name: str | None = None, connection=None):
        self.queue_name = queue_name or conf.get("QUEUE_NAME")
        self._connection = connection
        self._queue = None
        self._scheduler = None
        self._scripts: dict = {}  # Lua scripts registered on the connection (see Firings)

    @property
    def connection(self):
        if self._connection is None:
            self._connection = shared_connection(self.queue_name)
        return self._connection

    @property
    def queue(self):
        if self._queue is None:
            # The operations layer defers enqueues to the commit itself.
            self._queue = django_rq.get_queue(
                self.queue_name, connection=self.connection, commit_mode="auto"
            )
        return self._queue

    def queue_for(self, name: str | None):
        """Queue ``name`` (this backend's own when None), over this backend's connection."""
        if not name or name == self.queue_name:
            return self.queue
        return django_rq.get_queue(name, connection=self.connection, commit_mode="auto")

    @property
    def scheduler(self):
        if self._scheduler is None:
            self._scheduler = Scheduler(queue=self.queue, connection=self.connection)
        return self._scheduler

    def guard(self, func, *args, **kwargs):
        """Call ``func``; a Redis error becomes a BackendError that says where Redis is."""
        try:
            return func(*args, **kwargs)
        except RedisError as exc:
            error = BackendError(
                _("The task queue (Redis at %(where)s) is not reachable: %(error)s")
                % {"where": location(self.connection).rsplit("/", 1)[0], "error": exc}
            )
            error.unreachable = isinstance(exc, RedisConnectionError | RedisTimeoutError)
            raise error from exc

    def enqueue(self, job: Job) -> Any:
        return self.guard(
            self.queue_for(job.queue).enqueue_call,
            RUN_FUNCTION,
            args=(job.task_id,),
            kwargs=job.kwargs,
            timeout=job.timeout,
            description=job.description,
            job_id=job.job_id,
            meta=_meta(job),
            on_stopped=Callback(STOPPED_CALLBACK),
        )

    def schedule_at(self, job: Job, when: datetime) -> None:
        self.schedule_many([(job, when)])

    def schedule_many(self, jobs: list[tuple[Job, datetime]]) -> None:
        """Store scheduled jobs, a thousand per round trip (a sync rebuilding a wiped Redis)."""
        self.guard(write_scheduled, self.connection, self.queue_name, jobs)

    def cancel(self, job_id: str | None) -> None:
        if job_id:
            pipe = self.connection.pipeline()
            pipe.zrem(SCHEDULED_KEY, job_id).delete(RQJob.key_for(job_id))
            self.guard(pipe.execute)

    def drop_queued(self, task_id: int, queue: str | None = None) -> int:
        rq_queue = self.queue_for(queue)
        prefixes = (f"{JOB_PREFIX}{task_id}-", f"{RETRY_PREFIX}{task_id}-")
        dropped = [j for j in self.guard(rq_queue.get_job_ids) if j.startswith(prefixes)]
        for job_id in dropped:
            self.guard(rq_queue.remove, job_id)
        return len(dropped)

    def stop_running(self, job_id: str) -> bool:
        try:
            self.guard(send_stop_job_command, self.connection, job_id)
        except (InvalidJobOperation, NoSuchJobError):
            return False
        return True

    def due_time(self, job_id: str | None) -> datetime | None:
        if not job_id:
            return None
        score = self.guard(self.connection.zscore, SCHEDULED_KEY, job_id)
        return None if score is None else rq_scheduler_data.due_time(score)

    def set_due_time(self, job_id: str, when: datetime) -> None:
        pipe = self.connection.pipeline()
        pipe.zadd(SCHEDULED_KEY, {job_id: rq_scheduler_data.due_score(when)}, xx=True)
        wake_schedulers(pipe)
        self.guard(pipe.execute)

    def scheduled(self) -> dict[str, datetime]:
        """Every job in the scheduled set with its due time."""
        entries = self.guard(self.connection.zrange, SCHEDULED_KEY, 0, -1, withscores=True)
        return {raw.decode(): rq_scheduler_data.due_time(s) for raw, s in entries}

    def on_their_way(self, job_ids: list[str]) -> set[str]:
        """The ids among ``job_ids`` whose job is queued, running or deferred (one round trip)."""
        return self.guard(jobs_on_their_way, self.connection, job_ids)

    def live_jobs(self, job_ids: list[str], older_than: datetime) -> set[str]:
        names = sorted({*queue_names(), self.queue_name})
        queues = [Queue(name, connection=self.connection) for name in names]
        return self.guard(live_job_ids, self.connection, queues, job_ids, older_than)

    def has_marker(self) -> bool:
        return bool(self.guard(self.connection.exists, MARKER_KEY))

    def wait_for_work(self, longest: float, skip=frozenset()) -> None:
        """Sleep until the next scheduled job is due, a schedule is written (``WAKE_KEY``), or
        ``longest`` seconds; the jobs in ``skip`` are not waited for."""
        connection = self.connection
        first = connection.zrange(SCHEDULED_KEY, 0, len(skip), withscores=True)
        first = [(raw, score) for raw, score in first if raw.decode() not in skip]
        until = time.time() + longest
        if first:
            until = min(until, first[0][1])
        # Redis ends a blocking wait on its own clock tick (10 per second by default): block
        # until a tick before the due time, then sleep the rest here. A block longer than the
        # socket's time-out would end as a read error: block in pieces.
        socket_timeout = pool_settings(connection).get("socket_timeout")
        piece = socket_timeout / 2 if socket_timeout else longest
        while (coarse := until - time.time() - REDIS_TICK) >= 0.001:
            if connection.blpop([WAKE_KEY], timeout=min(coarse, piece)):
                return  # a schedule changed: look again now
        time.sleep(max(until - time.time(), 0))

    def set_aside(self, job_id: str) -> None:
        """Take a scheduled job out of the schedule, leaving the job itself (to look at)."""
        self.connection.zrem(SCHEDULED_KEY, job_id)  # unguarded: the scheduler rides out outages

    def scheduler_seen(self, scheduler_key: str, now: float) -> bool:
        """Stamp scheduler ``scheduler_key`` (and the last time any scheduler was) seen at
        ``now``; True when a worker had reported the schedulers missing (the mark is gone)."""
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hset(scheduler_key, "last_heartbeat", now).set(SEEN_KEY, now)
            *_, was_missing = pipe.delete(MISSING_KEY).execute()
        return bool(was_missing)

    def set_marker(self) -> None:
        self.guard(self.connection.set, MARKER_KEY, "1")

    def acquire_run_lock(self, task_id: int, token: str, ttl_seconds: float) -> bool:
        key, ttl = LOCK_KEY.format(task_id), int(ttl_seconds * 1000)
        return bool(self.guard(self.connection.set, key, token, nx=True, px=ttl))

    def renew_run_lock(self, task_id: int, token: str, ttl_seconds: float) -> None:
        script = self.connection.register_script(RENEW_LOCK)
        self.guard(script, keys=[LOCK_KEY.format(task_id)], args=[token, int(ttl_seconds * 1000)])

    def release_run_lock(self, task_id: int, token: str) -> None:
        script = self.connection.register_script(RELEASE_LOCK)
        self.guard(script, keys=[LOCK_KEY.format(task_id)], args=[token])

    def current_job_id(self) -> str:
        job = get_current_job()
        return job.id if job is not None else ""

    def current_job_timeout(self) -> int | None:
        job = get_current_job()
        return job.timeout if job is not None else None

    def is_timeout(self, exc: BaseException) -> bool:
        return isinstance(exc, JobTimeoutException)


def scheduled_rq_job(job: Job, connection, queue_name: str) -> RQJob:
    """The RQ job that waits in the scheduled set for ``job``'s due time."""
    meta = _meta(job)
    if META_TASK_ID in meta and "report_id" in job.kwargs:  # a deferred launch, recorded
        meta = {META_LAUNCH_OF: job.task_id}
    if job.interval:
        meta["interval"] = job.interval  # a plain rqscheduler repeats it too
    return RQJob.create(
        RUN_FUNCTION,
        args=[job.task_id],
        kwargs=job.kwargs,
        connection=connection,
        result_ttl=-1 if job.interval else None,
        description=job.description,
        timeout=job.timeout,
        id=job.job_id,
        origin=queue_name,
        meta=meta,
        status=JobStatus.SCHEDULED,
        on_stopped=Callback(STOPPED_CALLBACK),
    )


def write_scheduled(connection, queue_name: str, jobs, chunk: int = 1000) -> None:
    """Save each ``(job, when)`` of ``jobs`` and put it in the scheduled set, pipelined."""
    for start in range(0, len(jobs), chunk):
        with connection.pipeline() as pipe:
            for job, when in jobs[start : start + chunk]:
                scheduled_rq_job(job, connection, job.queue or queue_name).save(pipeline=pipe)
                pipe.zadd(SCHEDULED_KEY, {job.job_id: rq_scheduler_data.due_score(when)})
            wake_schedulers(pipe)
            pipe.execute()


def score_text(value: str | float) -> str:
    """A score for a Redis command or script: text from Redis as it is, a number as the
    shortest text that reads back as the same double."""
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else repr(float(value))


def wake_schedulers(pipe) -> None:
    """Queue on ``pipe`` the wake-up of a scheduler waiting for its next due time."""
    pipe.lpush(WAKE_KEY, "1").ltrim(WAKE_KEY, 0, 0)


def jobs_on_their_way(connection, job_ids: list[str]) -> set[str]:
    found = fetch_jobs(connection, job_ids)
    return {
        job.id for job in found if job is not None and job.get_status(refresh=False) in ON_ITS_WAY
    }


def fetch_jobs(connection, job_ids: list[str]) -> list[RQJob | None]:
    """The RQ jobs ``job_ids`` (None for a missing one), read in one round trip.

    A hash rq cannot read back (half written: a heartbeat that outlived its job) counts as
    missing, and only that one.
    """
    try:
        return RQJob.fetch_many(job_ids, connection=connection)
    except (NoSuchJobError, ValueError):
        return [_fetch_or_none(connection, job_id) for job_id in job_ids]


def _fetch_or_none(connection, job_id: str) -> RQJob | None:
    try:
        return RQJob.fetch(job_id, connection=connection)
    except (NoSuchJobError, ValueError):
        return None


def live_job_ids(connection, queues: list[Queue], job_ids: list[str], older_than: datetime) -> set:
    """``RQBackend.live_jobs``: every queue of the settings looked at."""
    queued = {job_id for queue in queues for job_id in queue.get_job_ids()}
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.zscore(SCHEDULED_KEY, job_id)
        scores = pipe.execute()
    jobs = fetch_jobs(connection, job_ids)
    live = set()
    for job_id, score, job in zip(job_ids, scores, jobs, strict=True):
        status = job.get_status(refresh=False) if job is not None else None
        if job_id in queued or score is not None or status == JobStatus.DEFERRED:
            live.add(job_id)
        elif status == JobStatus.STARTED and _after(
            job.last_heartbeat or job.started_at, older_than
        ):
            live.add(job_id)
    return live


def _after(moment: datetime | None, limit: datetime) -> bool:
    """Whether an RQ time (naive UTC in rq 2, aware in later ones) is later than ``limit``."""
    if moment is None:
        return False
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment > limit


def _meta(job: Job) -> dict:
    if job.job_id.startswith(RETRY_PREFIX):
        return {META_RETRY_OF: job.task_id}
    return {META_TASK_ID: job.task_id}


def read_status(connection, limit: int, overdue_before: float | None = None) -> dict:
    """Queues, workers, schedulers, the next ``limit`` scheduled jobs and the first ``limit``
    overdue firings (jobs still due before ``overdue_before``, a Unix time; None: none looked
    for), read quickly; ``reachable`` false (with the error) when Redis does not answer."""
    quick = quick_connection(connection)
    found: dict[str, Any] = {"location": location(connection), "reachable": True, "error": ""}
    found.update(overdue=[], overdue_total=0)
    try:
        quick.ping()
        entries = quick.zrange(SCHEDULED_KEY, 0, limit - 1, withscores=True)
        if overdue_before is not None:
            late = quick.zrangebyscore(
                SCHEDULED_KEY, "-inf", overdue_before, start=0, num=limit, withscores=True
            )
            found.update(
                overdue=[
                    (raw.decode(), task_id_of(raw.decode()), datetime.fromtimestamp(s, tz=UTC))
                    for raw, s in late
                ],
                overdue_total=quick.zcount(SCHEDULED_KEY, "-inf", overdue_before),
            )
        found.update(
            queues=[_queue_figures(quick, name) for name in queue_names()],
            workers=[_worker_figures(worker) for worker in Worker.all(connection=quick)],
            schedulers=_schedulers(quick),
            scheduled=[
                (raw.decode(), task_id_of(raw.decode()), datetime.fromtimestamp(s, tz=UTC))
                for raw, s in entries
            ],
            scheduled_total=quick.zcard(SCHEDULED_KEY),
            scheduler_last_seen=_timestamp(quick.get(SEEN_KEY)),
        )
    except (RedisError, OSError) as exc:
        found.update(reachable=False, error=str(exc) or type(exc).__name__)
        found.update(queues=[], workers=[], schedulers=[], scheduled=[], scheduled_total=None)
        found.update(scheduler_last_seen=None, overdue=[], overdue_total=None)
    finally:
        quick.connection_pool.disconnect()
    return found


def queue_names() -> list[str]:
    names = list(getattr(settings, "RQ_QUEUES", {}) or {})
    wanted = conf.get("QUEUE_NAME")
    return names if wanted in names else [wanted, *names]


def _queue_figures(connection, name: str) -> dict:
    queue = Queue(name, connection=connection)
    return {
        "name": name,
        "queued": queue.count,
        "started": queue.started_job_registry.count,
        "failed": queue.failed_job_registry.count,
    }


def _worker_figures(worker) -> dict:
    heartbeat = worker.last_heartbeat
    if heartbeat is not None and timezone.is_naive(heartbeat):
        heartbeat = heartbeat.replace(tzinfo=UTC)
    return {
        "name": worker.name,
        "hostname": worker.hostname,
        "pid": worker.pid,
        "state": str(worker.get_state()),
        "queues": worker.queue_names(),
        "current_job": worker.get_current_job_id(),
        "last_heartbeat": heartbeat,
    }


def _schedulers(connection) -> list[dict]:
    """Scheduler processes (``taskmanager scheduler`` or ``rqscheduler``) alive in Redis."""
    found = []
    for key in connection.scan_iter(match=SCHEDULER_KEY_PREFIX + "*", count=100):
        data = {k.decode(): v.decode() for k, v in connection.hgetall(key).items()}
        if not data or "death" in data:
            continue
        found.append(
            {
                "name": key.decode()[len(SCHEDULER_KEY_PREFIX) :],
                "started": _timestamp(data.get("birth")),
                "last_heartbeat": _timestamp(data.get("last_heartbeat")),
            }
        )
    return sorted(found, key=lambda s: s["name"])


def _timestamp(raw) -> datetime | None:
    """A Unix time stored in Redis, as an aware datetime (None when absent)."""
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None


def last_scheduler_seen(connection) -> float | None:
    """When a scheduler last stamped itself (Unix time), or None if none ever did."""
    return _float(connection.get(SEEN_KEY))


def flag_scheduler_missing(connection) -> bool:
    """Flag that no scheduler is seen; True only for the caller that set the flag first."""
    return bool(connection.set(MISSING_KEY, "1", nx=True))


def _float(raw) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
