"""Queue services: how a task is launched now, scheduled for later, or unscheduled.

``TaskQueueService`` is the contract; ``RQTaskQueueService`` (django-rq + rq-scheduler) and
``ImmediateTaskQueueService`` (runs in the calling process, no Redis) implement it. The setting
``EZTASKMANAGER_QUEUE_SERVICE_TYPE`` picks one: ``"RQ"``, ``"immediate"`` or a dotted path.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rq.callbacks import Callback

from eztaskmanager import conf
from eztaskmanager.schedules import Schedule

logger = logging.getLogger(__name__)

JOB_PREFIX = "eztm-"
RETRY_PREFIX = "eztmr-"
META_TASK_ID = "eztaskmanager_task_id"
META_RETRY_OF = "eztaskmanager_retry_of"


# Run by the worker after it killed the horse of a job stopped on request.
STOPPED_CALLBACK = Callback("eztaskmanager.services.guard.job_stopped")


def job_timeout(task) -> int | None:
    """The RQ job timeout of ``task``'s runs (None: the queue's default)."""
    return task.timeout or conf.get("DEFAULT_TIMEOUT")


class TaskQueueException(Exception):
    """A task could not be launched, scheduled or unscheduled; the message says why."""


class TaskQueueService(ABC):
    """Launches and schedules tasks."""

    @abstractmethod
    def launch(self, task):
        """Run ``task`` as soon as possible, whatever its schedule."""

    @abstractmethod
    def schedule(self, task):
        """Schedule the next run(s) of ``task`` from its schedule fields."""

    @abstractmethod
    def remove(self, task) -> None:
        """Unschedule ``task``; the task becomes idle."""

    @staticmethod
    def mark_unscheduled(task) -> None:
        """Clear the task's schedule state, in memory and in the database."""
        from eztaskmanager.models import Task

        task.scheduled_job_id = None
        task.cached_next_ride = None
        task.status = Task.STATUS_IDLE
        Task.objects.filter(pk=task.pk).update(
            scheduled_job_id=None, cached_next_ride=None, status=Task.STATUS_IDLE
        )

    def stop(self, task, by: str) -> int:
        """Unschedule ``task`` and stop its runs; return how many runs were asked to stop."""
        self.remove(task)
        return 0

    def retry(self, task, attempt: int, delay: int):
        """Run ``task`` again as attempt number ``attempt``, ``delay`` seconds from now."""
        from eztaskmanager.services import run_management_command

        # In-process there is no one to wait for: the retry runs at once.
        return run_management_command(task.pk, attempt=attempt)

    # The run lock: one run of a task at a time unless the task allows overlap. Without Redis,
    # a run holds the lock while its report is unfinished and its heartbeat fresh.

    def acquire_run_lock(self, task, token: str) -> bool:
        from eztaskmanager.models import LaunchReport

        fresh = timezone.now() - timedelta(seconds=conf.get("ORPHAN_AFTER_SECONDS"))
        others = LaunchReport.objects.filter(
            task_id=task.pk, invocation_result="", heartbeat_at__gte=fresh
        ).exclude(pk=int(token))
        return not others.exists()

    def renew_run_lock(self, task, token: str) -> None:  # noqa: B027 - optional hook
        """Keep the lock held (nothing to do when the lock is the report itself)."""

    def release_run_lock(self, task, token: str) -> None:  # noqa: B027 - optional hook
        """Give the lock up (nothing to do when the lock is the report itself)."""

    def add(self, task):
        """Schedule ``task`` if it has a schedule, otherwise launch it now (0.5.x behaviour)."""
        if task.is_scheduled:
            return self.schedule(task)
        return self.launch(task)

    def after_run(self, task, scheduled: bool) -> None:
        """Bring the task's status and next run time up to date after a run (not saved)."""
        from eztaskmanager.models import Task

        task.status = Task.STATUS_IDLE
        task.cached_next_ride = None


ONE_SECOND = timedelta(seconds=1)


def nominal_interval(schedule: Schedule, when: datetime) -> int:
    """Seconds between ``when`` and the run after it (at least one)."""
    following = schedule.next_run(after=when)
    if following is None:
        return 60
    return max(int((following - when).total_seconds()), 1)


def first_run(task, now: datetime | None = None) -> datetime:
    """When a scheduled task runs first; refuses a one-off time in the past."""
    now = now or timezone.now()
    schedule = Schedule.for_task(task)
    if not schedule.is_periodic:
        if schedule.start < now:
            raise TaskQueueException(_("It is not possible to schedule tasks in the past."))
        return schedule.start.astimezone(UTC)
    return schedule.next_run(after=now - ONE_SECOND / 2)


_connections: dict = {}


def shared_connection(queue_name: str):
    """One Redis client per process and queue: each new client opens new connections.

    Inside a worker, the job's own connection. redis-py's pools reconnect after a fork or a
    server restart by themselves.
    """
    from rq import get_current_job

    job = get_current_job()
    if job is not None and job.origin == queue_name:
        return job.connection
    from django.conf import settings

    key = (queue_name, repr(getattr(settings, "RQ_QUEUES", {}).get(queue_name)))
    if key not in _connections:
        import django_rq

        _connections[key] = django_rq.get_connection(queue_name)
    return _connections[key]


class RQTaskQueueService(TaskQueueService):
    """Launches on a django-rq queue and schedules with rq-scheduler."""

    def __init__(self, queue_name: str | None = None):
        self.queue_name = queue_name or conf.get("QUEUE_NAME")
        self._queue = None
        self._scheduler = None

    @property
    def queue(self):
        if self._queue is None:
            import django_rq

            self._queue = django_rq.get_queue(
                self.queue_name, connection=shared_connection(self.queue_name)
            )
        return self._queue

    @property
    def scheduler(self):
        if self._scheduler is None:
            import django_rq

            self._scheduler = django_rq.get_scheduler(
                self.queue_name, queue=self.queue, connection=self.connection
            )
        return self._scheduler

    @property
    def connection(self):
        return self.queue.connection

    def _redis_error(self, exc: Exception) -> TaskQueueException:
        kwargs = self.connection.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        return TaskQueueException(
            _("The task queue (Redis at %(where)s) is not reachable: %(error)s")
            % {"where": where, "error": exc}
        )

    def _guard(self, func, *args, **kwargs):
        from redis.exceptions import RedisError

        try:
            return func(*args, **kwargs)
        except RedisError as exc:
            raise self._redis_error(exc) from exc

    @staticmethod
    def new_job_id(task) -> str:
        return f"{JOB_PREFIX}{task.pk}-{uuid.uuid4().hex[:16]}"

    def launch(self, task):
        from eztaskmanager.models import Task
        from eztaskmanager.services import run_management_command

        job = self._guard(
            self.queue.enqueue,
            run_management_command,
            task.pk,
            job_id=self.new_job_id(task),
            meta={META_TASK_ID: task.pk},
            description=f"eztaskmanager: {task.name}",
            job_timeout=job_timeout(task),
            on_stopped=STOPPED_CALLBACK,
        )
        if task.status == Task.STATUS_IDLE:
            task.status = Task.STATUS_SPOOLED
            Task.objects.filter(pk=task.pk, status=Task.STATUS_IDLE).update(
                status=Task.STATUS_SPOOLED
            )
        return job

    def schedule(self, task):
        from eztaskmanager.models import Task

        if task.is_periodic and not task.cron_expression and task.scheduling is None:
            # A repetition counts from its first run: with no start given, that is now.
            task.scheduling = timezone.now()
            Task.objects.filter(pk=task.pk).update(scheduling=task.scheduling)
        when = first_run(task)
        self.cancel_job(task.scheduled_job_id)
        job = self.write_scheduled_job(task, self.new_job_id(task), when)
        task.scheduled_job_id = job.id
        task.status = Task.STATUS_SCHEDULED
        task.cached_next_ride = when
        Task.objects.filter(pk=task.pk).update(
            scheduled_job_id=job.id, status=task.status, cached_next_ride=when
        )
        return job

    def write_scheduled_job(self, task, job_id: str, when: datetime):
        """Store the scheduled job ``job_id`` of ``task`` in Redis, due at ``when``.

        The score is the exact due time (rq-scheduler's own calls round it down to the second).
        A periodic job carries a nominal ``interval`` so that a plain ``rqscheduler`` repeats it
        too; ``taskmanager scheduler`` and the run itself put the exact next time in its place.
        """
        from eztaskmanager.services import run_management_command

        schedule = Schedule.for_task(task)
        job = self.scheduler._create_job(
            run_management_command,
            args=[task.pk],
            kwargs={"scheduled": True},
            id=job_id,
            queue_name=self.queue_name,
            meta={META_TASK_ID: task.pk},
            description=f"eztaskmanager: {task.name}",
            result_ttl=-1 if schedule.is_periodic else None,
            timeout=job_timeout(task),
            commit=False,
        )
        if schedule.is_periodic:
            job.meta["interval"] = nominal_interval(schedule, when)
        return self._save_scheduled(job, when)

    def _save_scheduled(self, job, when: datetime):
        """Save ``job`` and put it in the scheduled set, due at ``when`` (exact score)."""
        # rq-scheduler's job factory does not take this callback: set it on the job itself.
        job._stopped_callback_name = STOPPED_CALLBACK.name

        def write():
            with self.connection.pipeline() as pipe:
                job.save(pipeline=pipe)
                pipe.zadd(self.scheduler.scheduled_jobs_key, {job.id: when.timestamp()})
                pipe.execute()

        self._guard(write)
        return job

    def remove(self, task) -> None:
        self.cancel_job(task.scheduled_job_id)
        self.mark_unscheduled(task)

    def stop(self, task, by: str) -> int:
        """Unschedule ``task``, drop its queued runs and stop its running ones.

        A running job's work horse is killed by its worker; the worker then closes the report
        as failed, "stopped by <by>" (see ``guard.job_stopped``).
        """
        from rq.command import send_stop_job_command
        from rq.exceptions import InvalidJobOperation, NoSuchJobError

        from eztaskmanager.models import LaunchReport
        from eztaskmanager.services.guard import close_run

        self.remove(task)
        prefixes = (f"{JOB_PREFIX}{task.pk}-", f"{RETRY_PREFIX}{task.pk}-")
        for job_id in self._guard(self.queue.get_job_ids):
            if job_id.startswith(prefixes):
                self._guard(self.queue.remove, job_id)
        running = list(LaunchReport.objects.filter(task_id=task.pk, invocation_result=""))
        LaunchReport.objects.filter(pk__in=[r.pk for r in running]).update(stop_requested_by=by)
        for report in running:
            report.stop_requested_by = by
            try:
                if not report.rq_job_id:
                    raise InvalidJobOperation("not an RQ run")
                self._guard(send_stop_job_command, self.connection, report.rq_job_id)
            except (InvalidJobOperation, NoSuchJobError):
                # Not running on a worker (any more): close it here.
                close_run(report, f"stopped by {by}", retry=False)
        return len(running)

    def retry(self, task, attempt: int, delay: int):
        from eztaskmanager.services import run_management_command

        job_id = f"{RETRY_PREFIX}{task.pk}-{uuid.uuid4().hex[:16]}"
        description = f"eztaskmanager: {task.name} (attempt {attempt})"
        if delay <= 0:
            return self._guard(
                self.queue.enqueue,
                run_management_command,
                task.pk,
                attempt=attempt,
                job_id=job_id,
                meta={META_RETRY_OF: task.pk},
                description=description,
                job_timeout=job_timeout(task),
                on_stopped=STOPPED_CALLBACK,
            )
        job = self.scheduler._create_job(
            run_management_command,
            args=[task.pk],
            kwargs={"attempt": attempt},
            id=job_id,
            queue_name=self.queue_name,
            meta={META_RETRY_OF: task.pk},
            description=description,
            timeout=job_timeout(task),
            commit=False,
        )
        return self._save_scheduled(job, timezone.now() + timedelta(seconds=delay))

    def _lock_key(self, task) -> str:
        return f"eztaskmanager:run-lock:{task.pk}"

    def _lock_ttl_ms(self) -> int:
        return int(conf.get("ORPHAN_AFTER_SECONDS") * 1000)

    def acquire_run_lock(self, task, token: str) -> bool:
        return bool(
            self._guard(
                self.connection.set, self._lock_key(task), token, nx=True, px=self._lock_ttl_ms()
            )
        )

    def renew_run_lock(self, task, token: str) -> None:
        self._guard(
            self._lock_script("renew"),
            keys=[self._lock_key(task)],
            args=[token, self._lock_ttl_ms()],
        )

    def release_run_lock(self, task, token: str) -> None:
        try:
            self._guard(self._lock_script("release"), keys=[self._lock_key(task)], args=[token])
        except TaskQueueException as exc:  # the lock expires by itself
            logger.warning("Run lock of task %s not released: %s", task.pk, exc)

    def _lock_script(self, name: str):
        # Renew or delete the lock only while it is still ours.
        body = {
            "renew": "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
            "release": "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) end return 0",
        }[name]
        return self.connection.register_script(body)

    def cancel_job(self, job_id: str | None) -> None:
        if not job_id:
            return

        def cancel():
            self.scheduler.cancel(job_id)
            self.connection.delete(self.queue.job_class.key_for(job_id))

        self._guard(cancel)

    def scheduled_time(self, job_id: str | None) -> datetime | None:
        """When the scheduled job ``job_id`` fires next, or None if it is not scheduled."""
        if not job_id:
            return None
        score = self._guard(self.connection.zscore, self.scheduler.scheduled_jobs_key, job_id)
        if score is None:
            return None
        return datetime.fromtimestamp(float(score), tz=UTC)

    def after_run(self, task, scheduled: bool) -> None:
        """Re-time a periodic job to its exact next run; clear a finished one-off schedule."""
        from eztaskmanager.models import Task

        if not task.scheduled_job_id:
            task.status = Task.STATUS_IDLE
            task.cached_next_ride = None
            return
        if task.is_periodic:
            current = self.scheduled_time(task.scheduled_job_id)
            exact = Schedule.for_task(task).next_run(after=timezone.now())
            if current is not None and exact is not None and abs(current - exact) > ONE_SECOND:
                # A plain rqscheduler re-queues interval jobs at "now + interval"; put the exact
                # next run (calendar months, wall-clock days in TIME_ZONE, cron) in its place.
                self._guard(
                    self.connection.zadd,
                    self.scheduler.scheduled_jobs_key,
                    {task.scheduled_job_id: exact.timestamp()},
                    xx=True,
                )
                current = exact
            task.cached_next_ride = current
            task.status = Task.STATUS_SCHEDULED if current else Task.STATUS_IDLE
            return
        remaining = self.scheduled_time(task.scheduled_job_id)
        if scheduled or remaining is None:
            task.status = Task.STATUS_IDLE
            task.scheduled_job_id = None
            task.cached_next_ride = None
        else:
            task.status = Task.STATUS_SCHEDULED
            task.cached_next_ride = remaining


class ImmediateTaskQueueService(TaskQueueService):
    """Runs a launched task at once, in the calling process; cannot schedule (no Redis)."""

    def launch(self, task):
        from eztaskmanager.services import run_management_command

        return run_management_command(task.pk)

    def schedule(self, task):
        raise TaskQueueException(
            _(
                "The immediate queue service runs tasks at once and cannot schedule them; "
                "use the RQ service to schedule."
            )
        )

    def remove(self, task) -> None:
        self.mark_unscheduled(task)


SERVICES = {"RQ": RQTaskQueueService, "immediate": ImmediateTaskQueueService}


def get_task_service() -> TaskQueueService:
    """The queue service named by ``EZTASKMANAGER_QUEUE_SERVICE_TYPE``."""
    kind = conf.get("QUEUE_SERVICE_TYPE")
    service_class = SERVICES.get(kind)
    if service_class is None:
        try:
            service_class = import_string(kind)
        except ImportError as exc:
            raise TaskQueueException(
                _("Unknown EZTASKMANAGER_QUEUE_SERVICE_TYPE %(kind)r.") % {"kind": kind}
            ) from exc
    return service_class()
